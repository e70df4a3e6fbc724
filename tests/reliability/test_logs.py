"""Logs (issue 7.4): at the default level a served process logs no key, email or event body.

The server runs as operators run it (`serve`, default logging), receives keys in both
places, an email, events and hostile bodies that fail validation, and its whole output
is searched afterwards.
"""

from __future__ import annotations

import secrets

import httpx

from annotation_insights.store import open_database
from annotation_insights.tenancy.keys import create_key, revoke_key
from annotation_insights.tenancy.workspaces import create_workspace
from reliability.harness import ServerProcess

EMAIL = "private.person@example.com"


def test_served_logs_hold_no_key_email_or_event_body(database_url, tmp_path):
    marker = f"BODYMARK{secrets.token_hex(4)}"
    with open_database(database_url) as db:
        ws = create_workspace(db, "acme")
        key, revoked = create_key(db, ws).key, create_key(db, ws).key
        revoke_key(db, revoked)
    unknown = f"ai_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    event = {"id": f"{marker}-1", "type": "annotation.created", "time": "2026-03-01T10:00:00Z",
             "project": "p", "image": f"{marker}-img", "labeler": f"{marker}-lab", "annotation": "a"}
    server = ServerProcess(database_url, tmp_path / "server.log")
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            auth = {"Authorization": f"Bearer {key}"}
            statuses = [
                http.post("/acme/events", json=[event], headers=auth).status_code,
                http.post("/acme/events", json=[{**event, "project": f"{marker} BAD"}],
                          headers=auth).status_code,
                http.post("/acme/events", content=f'[{{"id": "{marker}", '.encode(),
                          headers=auth | {"Content-Type": "application/json"}).status_code,
                http.put(f"/acme/labelers/{marker}-lab", params={"api_key": key},
                         json={"displayName": marker, "email": EMAIL}).status_code,
                http.get("/acme/stats", params={"api_key": key, "startDate": "2026-03-01",
                                                "endDate": "2026-03-31"}).status_code,
                http.get("/acme/labelers", params={"api_key": key}).status_code,
                http.get("/acme/stats", params={"api_key": revoked}).status_code,
                http.get("/acme/stats", headers={"Authorization": f"Bearer {unknown}"}).status_code,
                http.post("/acme/integrations/label-studio", headers=auth,
                          json={"action": "ANNOTATION_CREATED", "project": {"id": 1},
                                "annotation": {"id": marker, "result": []}}).status_code,
                http.post("/", params={"api_key": key}).status_code,
            ]
        assert server.terminate() == 0
    finally:
        server.kill()
    assert statuses == [200, 400, 400, 200, 200, 200, 401, 401, 400, 200]
    log = server.log()
    assert 'POST /acme/events HTTP/1.1" 200' in log  # the access log is on: this search means something
    assert "api_key=REDACTED" in log
    for secret in (key, revoked, unknown):
        assert secret.split("_", 2)[2] not in log
    assert EMAIL not in log
    assert marker not in log.replace(f"/acme/labelers/{marker}-lab", "")
