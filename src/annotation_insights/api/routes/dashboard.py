"""The insights dashboard: one page per workspace, its assets, and the context it starts from.

The page itself carries no data and no secret, so it is served without a key; the browser
keeps the key the user pastes in its session storage and sends it as a Bearer header to
the same `/stats` endpoints every other client uses. Assets ship inside the package and
the page's Content-Security-Policy allows nothing but this origin: it works offline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import mimetypes
from functools import lru_cache
from importlib.resources import files
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from starlette.responses import HTMLResponse, Response

from annotation_insights import __version__
from annotation_insights.api.deps import DatabaseDep, ReadKey, SettingsDep
from annotation_insights.errors import NotFound
from annotation_insights.metrics.definitions import shape_labeler
from annotation_insights.metrics.export import COLUMNS
from annotation_insights.tenancy.reference import list_labelers, list_projects
from annotation_insights.tenancy.workspaces import SLUG

router = APIRouter(tags=["dashboard"])

_ROOT = files("annotation_insights") / "dashboard"
ASSET_PATH = "/assets/insights"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_PAGE_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
                 "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}


@lru_cache(maxsize=1)
def _assets() -> dict[str, tuple[bytes, str]]:
    out = {}
    for item in (_ROOT / "static").iterdir():
        if item.is_file():
            kind = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
            out[item.name] = (item.read_bytes(), "text/javascript" if item.name.endswith(".js") else kind)
    return out


@lru_cache(maxsize=1)
def _asset_version() -> str:
    digest = hashlib.sha256(__version__.encode())
    for name, (body, _) in sorted(_assets().items()):
        digest.update(name.encode() + b"\0" + body)
    return digest.hexdigest()[:12]


@lru_cache(maxsize=1)
def _template() -> str:
    return (_ROOT / "templates" / "insights.html").read_text(encoding="utf-8")


@router.get("/{workspace}/insights", response_class=HTMLResponse, include_in_schema=False)
def insights_page(workspace: str) -> HTMLResponse:
    if not SLUG.fullmatch(workspace):
        raise NotFound(f"No workspace {workspace!r}.")
    config = {"workspace": workspace, "csvColumns": list(COLUMNS), "version": __version__}
    # JSON inside <script type="application/json">: only "<" could end the block early.
    page = (_template()
            .replace("{{workspace}}", html.escape(workspace))
            .replace("{{assets}}", ASSET_PATH)
            .replace("{{v}}", _asset_version())
            .replace("{{config}}", json.dumps(config).replace("<", "\\u003c")))
    return HTMLResponse(page, headers=_PAGE_HEADERS)


@router.get(ASSET_PATH + "/{name}", include_in_schema=False)
def insights_asset(name: str, v: str | None = None) -> Response:
    asset = _assets().get(name)
    if asset is None:
        raise NotFound(f"No dashboard asset {name!r}.")
    cache = ("public, max-age=31536000, immutable" if v == _asset_version() else "no-cache")
    return Response(asset[0], media_type=asset[1],
                    headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})


@router.get("/{workspace}/insights/context", responses={401: {}, 403: {}})
def insights_context(workspace: str, key: ReadKey, db: DatabaseDep, settings: SettingsDep) -> dict:
    """What the dashboard needs before its first query: names, filters and today's local date."""
    ws = key.workspace
    return {
        "workspace": {"slug": ws.slug, "name": ws.name, "timezone": ws.timezone},
        "today": dt.datetime.now(ZoneInfo(ws.timezone)).date().isoformat(),
        "availableFrom": settings.availability_date.isoformat(),
        "projects": list_projects(db, ws),
        "labelers": [shape_labeler(lab["id"], lab["displayName"], lab["email"], lab["system"])
                     for lab in list_labelers(db, ws)],
    }
