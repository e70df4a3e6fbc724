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
from annotation_insights.events.ndjson import json_body_table, ndjson_table
from annotation_insights.events.ingest import (PYTHON_BODY_MAX_BYTES, IngestResult, ingest, validate_batch,
                                              validate_columns)
from annotation_insights.settings import Settings
from annotation_insights.store.database import Database
from annotation_insights.tenancy.workspaces import Workspace

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


def is_ndjson(content_type: str) -> bool:
    return "ndjson" in content_type or "jsonlines" in content_type or "json-seq" in content_type


def parse_events_body(body: bytes, content_type: str) -> list[Any]:
    if is_ndjson(content_type):
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
    result = await run_in_threadpool(_ingest_body, body, request.headers.get("content-type", ""),
                                     db, key.workspace, settings)
    return result.body()


def _ingest_body(body: bytes, content_type: str, db: Database, workspace: Workspace,
                 settings: Settings) -> IngestResult:
    """Parse, validate and store one request's batch, on a worker thread: the batch engine
    releases the GIL, so requests prepare their batches side by side."""
    limits = {"max_events": settings.max_batch_events,
              "future_tolerance_hours": settings.future_tolerance_hours}
    table = None
    if len(body) > PYTHON_BODY_MAX_BYTES:
        table = ndjson_table(body) if is_ndjson(content_type) else json_body_table(body)
    batch = validate_columns(table, **limits) if table is not None else None
    if batch is None:
        batch = validate_batch(parse_events_body(body, content_type), **limits)
    return ingest(db, workspace, batch)


__all__ = ["router", "EventIn"]
