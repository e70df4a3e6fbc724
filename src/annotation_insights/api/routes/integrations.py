"""`POST /{workspace}/integrations/label-studio`: Label Studio's webhooks, live.

Label Studio posts each webhook synchronously inside the user's request, waits 1 s and
never retries. So the delivery is converted and committed right here, in a few
milliseconds, and 200 is answered only after the commit: an acknowledged delivery is
never lost, and a failed one is reported to Label Studio's log rather than dropped
silently. Unhandled actions (tasks, projects, ...) are acknowledged and ignored.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from annotation_insights.api.body import read_limited_body
from annotation_insights.api.deps import DatabaseDep, SettingsDep, WriteKey
from annotation_insights.connectors.label_studio import LabelStudioError, parse_delivery
from annotation_insights.connectors.label_studio_sync import apply_delivery
from annotation_insights.errors import BadRequest
from annotation_insights.events.schema import PROJECT_SLUG

router = APIRouter(tags=["integrations"])

# Bulk actions carry up to 5,000 annotations with their full results in one body.
_BODY_FACTOR = 4


@router.post("/{workspace}/integrations/label-studio", responses={400: {}, 413: {}})
async def label_studio_webhook(
        workspace: str, request: Request, key: WriteKey, db: DatabaseDep, settings: SettingsDep,
        project: Annotated[str | None, Query(
            description="Record under this project slug instead of label-studio-<id>.")] = None,
        backfill: Annotated[bool, Query(
            description="Set by `connect label-studio` when it sends existing annotations: "
                        "their regions are dated when the annotation was created.")] = False,
) -> dict:
    """Receive a Label Studio webhook (register it with `send_payload: true`)."""
    if project is not None and not PROJECT_SLUG.fullmatch(project):
        raise BadRequest(f"Invalid project slug {project!r}: it must match "
                         "^[a-z0-9][a-z0-9._-]{0,99}$.")
    body = await read_limited_body(request, settings.max_body_bytes * _BODY_FACTOR)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}", code="invalid_json") from None
    try:
        delivery = parse_delivery(payload, project_override=project)
    except LabelStudioError as exc:
        raise BadRequest(f"Not a Label Studio webhook this server can read: {exc}.") from None
    result = await run_in_threadpool(apply_delivery, db, key.workspace, delivery, backfill=backfill)
    return {"action": delivery.action, **result.body()}
