"""Workspaces: the tenant boundary. Every row in the store belongs to exactly one."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from annotation_insights.errors import BadRequest, Conflict, NotFound
from annotation_insights.store.queries import tenancy as tenancy_sql
from annotation_insights.store.database import Database

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# Top-level routes a workspace slug would shadow.
RESERVED_SLUGS = frozenset({
    "admin", "api", "assets", "dashboard", "docs", "events", "health", "healthz", "insights",
    "login", "logout", "metrics", "openapi", "redoc", "static", "stats", "v1", "v2",
    "workspaces", "integrations", "favicon-ico", "docs-assets",
})


@dataclass(frozen=True)
class Workspace:
    id: int
    slug: str
    name: str
    timezone: str


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"Unknown timezone {name!r}: use an IANA name such as "
                         "'UTC', 'Europe/Berlin' or 'America/New_York'.") from None
    return name


def create_workspace(db: Database, slug: str, *, name: str | None = None,
                     timezone: str = "UTC") -> Workspace:
    if not SLUG.fullmatch(slug):
        raise BadRequest(f"Invalid workspace slug {slug!r}: use 1-63 lowercase letters, digits "
                         "and dashes, starting with a letter or digit.")
    if slug in RESERVED_SLUGS:
        raise BadRequest(f"The workspace slug {slug!r} is reserved; choose another.")
    validate_timezone(timezone)
    with db.transaction() as tx:
        if tx.execute(tenancy_sql.SELECT_WORKSPACE_BY_SLUG, {"slug": slug}):
            raise Conflict(f"A workspace with slug {slug!r} already exists.")
        rows = tx.execute(tenancy_sql.INSERT_WORKSPACE, {
            "slug": slug, "name": name or slug, "timezone": timezone,
            "now": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)})
    return Workspace(rows[0][0], slug, name or slug, timezone)


def get_workspace(db: Database, slug: str) -> Workspace:
    rows = db.read(tenancy_sql.SELECT_WORKSPACE_BY_SLUG, {"slug": slug})
    if not rows:
        raise NotFound(f"No workspace {slug!r}.")
    return Workspace(*rows[0])


def list_workspaces(db: Database) -> list[Workspace]:
    return [Workspace(*row) for row in db.read(tenancy_sql.SELECT_WORKSPACES)]
