"""`POST /{workspace}/events`: batches as a JSON array, `{"events": [...]}`, or NDJSON."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from annotation_insights.api.body import read_limited_body
from annotation_insights.api.deps import DatabaseDep, SettingsDep, WriteKey
from annotation_insights.api.schemas import EventIn, IngestResponse
from annotation_insights.errors import BadRequest
from annotation_insights.events.ingest import ingest, validate_batch

router = APIRouter(tags=["events"])

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"oneOf": [
                {"type": "array", "items": {"$ref": "#/components/schemas/EventIn"}},
                {"type": "object", "required": ["events"], "properties": {
                    "events": {"type": "array", "items": {"$ref": "#/components/schemas/EventIn"}}}},
            ]}},
            "application/x-ndjson": {"schema": {"type": "string",
                                                "description": "one event object per line"}},
        },
    },
}


def parse_events_body(body: bytes, content_type: str) -> list[Any]:
    if "ndjson" in content_type or "jsonlines" in content_type or "json-seq" in content_type:
        events = []
        for number, line in enumerate(body.splitlines(), start=1):
            if line.strip():
                try:
                    events.append(orjson.loads(line))
                except orjson.JSONDecodeError as exc:
                    raise BadRequest(f"Line {number} of the NDJSON body is not valid JSON: {exc}",
                                     code="invalid_json") from None
        return events
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}", code="invalid_json") from None
    if isinstance(payload, dict) and isinstance(payload.get("events"), list):
        return payload["events"]
    if isinstance(payload, list):
        return payload
    raise BadRequest('The body must be a JSON array of events, {"events": [...]}, '
                     "or NDJSON with Content-Type: application/x-ndjson.")


@router.post("/{workspace}/events", response_model=IngestResponse, openapi_extra=_BODY_DOC,
             responses={400: {}, 413: {}})
async def post_events(workspace: str, request: Request, key: WriteKey, db: DatabaseDep,
                      settings: SettingsDep) -> dict:
    body = await read_limited_body(request, settings.max_body_bytes)
    raw = parse_events_body(body, request.headers.get("content-type", ""))
    events = validate_batch(raw, max_events=settings.max_batch_events,
                            future_tolerance_hours=settings.future_tolerance_hours)
    result = await run_in_threadpool(ingest, db, key.workspace, events)
    return result.body()


__all__ = ["router", "EventIn"]
