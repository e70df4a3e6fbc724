"""Shared helpers for the HTTP contract tests: building events, calling the API, and
checking the one error shape `{"error": {"status", "code", "message", "details"}}`."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

from fastapi.testclient import TestClient

from annotation_insights.api.app import create_app
from annotation_insights.settings import Settings

ERROR_KEYS = {"status", "code", "message", "details"}
DETAIL_KEYS = {"index", "field", "message"}
ROW_KEYS = {"projectId", "projectName", "projectType", "labelerId", "workspaceId",
            "imagesLabeled", "boxesDrawn", "markedNull", "modelAssisted", "approved", "rejected",
            "approvalRate", "netBoxesAdded", "netBoxesUpdated", "boxesAdded", "boxesRemoved",
            "boxesUpdated"}
TOTAL_KEYS = {"numImagesLabeled", "numBoxesDrawn", "numImagesMarkedNull",
              "totalImagesUsingModelAssist", "numBoxesAdded", "numBoxesRemoved",
              "numBoxesUpdated", "netBoxesAdded", "netBoxesUpdated", "approvalRate"}
ZERO_TOTALS = {key: 0 for key in TOTAL_KEYS} | {"approvalRate": None}
MARCH = {"startDate": "2024-03-01", "endDate": "2024-03-31"}


def event(event_id: str, type_: str = "annotation.created", *, time: str = "2024-03-01T10:00:00Z",
          project: str = "p", image: str = "img1", labeler: str = "alice", **extra) -> dict:
    """A valid SPEC §3 event; annotation.* events get an annotation id unless one is given."""
    body = {"id": event_id, "type": type_, "time": time, "project": project, "image": image,
            "labeler": labeler}
    if type_.startswith("annotation."):
        body["annotation"] = f"ann-{event_id}"
    return body | extra


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def iso_in(hours: float) -> str:
    """An RFC 3339 UTC time `hours` from now."""
    moment = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def post_events(client, key: str, payload, *, workspace: str = "acme"):
    return client.post(f"/{workspace}/events", json=payload, headers=bearer(key))


def post_ndjson(client, key: str, body: bytes, *, workspace: str = "acme",
                content_type: str = "application/x-ndjson"):
    return client.post(f"/{workspace}/events", content=body,
                       headers=bearer(key) | {"Content-Type": content_type})


def ingest_ok(client, key: str, payload, *, workspace: str = "acme") -> dict:
    response = post_events(client, key, payload, workspace=workspace)
    assert response.status_code == 200, response.text
    return response.json()


def get_stats(client, key: str, *, workspace: str = "acme", **params):
    """GET /{workspace}/stats with the key as `?api_key=` (as Roboflow clients send it)."""
    return client.get(f"/{workspace}/stats", params={"api_key": key, **params})


def stats_ok(client, key: str, *, workspace: str = "acme", **params) -> dict:
    response = get_stats(client, key, workspace=workspace, **(MARCH | params))
    assert response.status_code == 200, response.text
    return response.json()


def assert_error(response, status: int, code: str, *message_parts: str) -> dict:
    """Check the one error shape and return its `error` object.

    A clear message names what went wrong and what to do: each of `message_parts`
    must appear in it.
    """
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == ERROR_KEYS, error
    assert error["status"] == status
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    for part in message_parts:
        assert part in error["message"], (part, error["message"])
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert set(detail) == DETAIL_KEYS, detail
        assert isinstance(detail["message"], str) and detail["message"], detail
    return error


def assert_unauthorized(response, *message_parts: str) -> dict:
    error = assert_error(response, 401, "unauthorized", *message_parts)
    assert response.headers.get("www-authenticate") == "Bearer"
    return error


@contextmanager
def client_with(db, database_url: str, **settings):
    """A client over `db` whose server settings differ from the defaults."""
    app = create_app(Settings(database=database_url, **settings), db)
    with TestClient(app) as client:
        yield client
