"""Tenancy and keys (issue 7.4): every endpoint × every kind of credential, and no leak.

The endpoint list is the OpenAPI document itself, so an endpoint added later without an
entry in `SCOPES` fails here until its scope is declared and checked.
"""

from __future__ import annotations

import hashlib
import secrets

import pytest

import annotation_insights.tenancy.keys as keys_module
from annotation_insights.tenancy.keys import authenticate, create_key, revoke_key
from api.helpers import ERROR_KEYS, bearer
from conftest import make_tenant
from reliability.harness import assert_same_stats, expected_stats

RANGE = {"startDate": "2026-01-01", "endDate": "2026-12-31"}
SECRET_EMAIL = "victim.person@example.com"
SECRET_NAME = "Victim Secret Project"

# (method, OpenAPI path) -> (scope needed, params, JSON body). None: no key needed at all;
# "any": any live key of any workspace (POST / names the key's own workspace).
SCOPES = {
    ("GET", "/health"): (None, {}, None),
    ("POST", "/"): ("any", {}, None),
    ("POST", "/{workspace}/events"): ("write", {}, []),
    ("GET", "/{workspace}/stats"): ("read", RANGE, None),
    ("GET", "/{workspace}/stats.csv"): ("read", RANGE, None),
    ("GET", "/{workspace}/stats/timeseries"): ("read", RANGE, None),
    ("GET", "/{workspace}/projects"): ("read", {}, None),
    ("PUT", "/{workspace}/projects/{slug}"): ("admin", {}, {"name": "Renamed"}),
    ("GET", "/{workspace}/labelers"): ("read", {}, None),
    ("PUT", "/{workspace}/labelers/{labeler_id}"): ("admin", {}, {"displayName": "Renamed"}),
    ("POST", "/{workspace}/integrations/label-studio"): (
        "write", {}, {"action": "PROJECT_UPDATED", "project": {"id": 3, "title": "LS"}}),
    ("GET", "/{workspace}/insights/context"): ("read", {}, None),
}
CREDENTIALS = ("none", "unknown", "revoked", "other workspace", "read", "write", "admin")


def _event(i: int, labeler: str, project: str = "shared") -> dict:
    return {"id": f"e{i}", "type": "annotation.created", "time": f"2026-03-0{1 + i % 5}T10:00:00Z",
            "project": project, "image": f"img{i % 7}", "labeler": labeler, "annotation": f"a{i}"}


@pytest.fixture
def world(db, client):
    """acme (the caller) and victim, whose ids, projects and labelers deliberately overlap."""
    acme, victim = make_tenant(db, "acme"), make_tenant(db, "victim")
    revoked = create_key(db, acme.workspace).key
    revoke_key(db, revoked)
    acme_events = [_event(i, "alice") for i in range(30)]
    victim_events = [_event(i, "alice") for i in range(10, 60)] + [_event(99, "mallory", "secret")]
    for tenant, events in ((acme, acme_events), (victim, victim_events)):
        assert client.post(f"/{tenant.workspace.slug}/events", json=events,
                           headers=bearer(tenant.write)).status_code == 200
    assert client.put("/victim/projects/secret", json={"name": SECRET_NAME},
                      headers=bearer(victim.admin)).status_code == 200
    assert client.put("/victim/labelers/mallory", json={"displayName": "M", "email": SECRET_EMAIL},
                      headers=bearer(victim.admin)).status_code == 200
    credentials = {"none": None, "unknown": f"ai_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}",
                   "revoked": revoked, "other workspace": victim.all,
                   "read": acme.read, "write": acme.write, "admin": acme.admin}
    return {"acme": acme, "victim": victim, "credentials": credentials,
            "events": {"acme": acme_events, "victim": victim_events}}


def _url(path: str, workspace: str) -> str:
    return (path.replace("{workspace}", workspace).replace("{slug}", "shared")
            .replace("{labeler_id}", "alice"))


def _expected(scope: str | None, credential: str, workspace: str) -> int:
    """acme's credentials on acme, victim and a workspace that does not exist; "other
    workspace" is victim's key. A key is only ever good for its own workspace, and a
    workspace that does not exist looks like someone else's: 403, never a 404 confirming it."""
    if scope is None:
        return 200
    if credential in ("none", "unknown", "revoked"):
        return 401
    if scope == "any":
        return 200
    if workspace != "acme" or credential == "other workspace":
        return 403
    return 200 if credential == scope else 403


def _call(client, method: str, url: str, params: dict, body, key: str | None, via: str):
    params, headers = dict(params), {"Origin": "https://evil.example"}
    if key is not None and via == "header":
        headers |= bearer(key)
    elif key is not None:
        params["api_key"] = key
    return client.request(method, url, params=params, json=body, headers=headers)


def _victim_state(db) -> list:
    return [db.read(sql) for sql in (
        "SELECT count(*) FROM events e JOIN workspaces w ON w.id = e.workspace_id WHERE w.slug = 'victim'",
        "SELECT p.slug, p.name, p.type FROM projects p JOIN workspaces w ON w.id = p.workspace_id "
        "WHERE w.slug = 'victim' ORDER BY p.slug",
        "SELECT l.id, l.display_name, l.email FROM labelers l JOIN workspaces w ON w.id = l.workspace_id "
        "WHERE w.slug = 'victim' ORDER BY l.id")]


def test_the_matrix_covers_every_endpoint(client):
    operations = {(method.upper(), path) for path, item in client.app.openapi()["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert operations == set(SCOPES), "declare the scope of every endpoint in SCOPES"


@pytest.mark.parametrize("via", ["header", "query"])
def test_every_endpoint_by_every_credential(client, db, world, via):
    victim_before = _victim_state(db)
    outcomes = {}
    for (method, path), (scope, params, body) in SCOPES.items():
        for credential in CREDENTIALS:
            key = world["credentials"][credential]
            for workspace in ("acme", "victim", "no-such-workspace"):
                if "{workspace}" not in path and workspace != "acme":
                    continue
                if workspace == "victim" and credential == "other workspace":
                    continue  # victim's own key on victim: its owner, not a leak
                response = _call(client, method, _url(path, workspace), params, body, key, via)
                expected = _expected(scope, credential, workspace)
                outcomes[(method, path, credential, workspace)] = response.status_code
                assert response.status_code == expected, (method, path, credential, workspace, via,
                                                          response.text[:300])
                assert "access-control-allow-origin" not in response.headers
                if response.status_code >= 400:
                    body_json = response.json()
                    assert set(body_json) == {"error"} and set(body_json["error"]) == ERROR_KEYS
                text = response.text
                assert SECRET_EMAIL not in text and SECRET_NAME not in text and "mallory" not in text
    assert _victim_state(db) == victim_before
    assert sum(1 for s in outcomes.values() if s == 200) >= 12


def test_each_workspace_sees_only_its_own_events(client, world):
    for slug in ("acme", "victim"):
        tenant = world[slug]
        answer = client.get(f"/{slug}/stats", params=RANGE, headers=bearer(tenant.read)).json()
        assert_same_stats(answer, expected_stats(world["events"][slug], "UTC", **_range()))
        labelers = client.get(f"/{slug}/labelers", headers=bearer(tenant.read)).json()
        assert ({lab["id"] for lab in labelers} == {"alice", "mallory"}) == (slug == "victim")


def _range() -> dict:
    return {"start": RANGE["startDate"], "end": RANGE["endDate"]}


def test_keys_are_stored_only_as_hashes(db, world):
    keys = list(k for k in world["credentials"].values() if k)
    tables = [r[0] for r in db.read("SELECT table_name FROM information_schema.tables WHERE "
                                    "table_schema IN ('main', 'public') AND table_type = 'BASE TABLE'")]
    for table in tables:
        for row in db.read(f"SELECT * FROM {table}"):  # noqa: S608 (table names from the catalog)
            flat = " ".join(str(v) for v in row)
            for key in keys:
                assert key.split("_", 2)[2] not in flat, table
    stored = {r[0] for r in db.read("SELECT key_hash FROM api_keys")}
    assert hashlib.sha256(world["acme"].read.encode()).hexdigest() in stored


def test_keys_are_compared_in_constant_time(db, world, monkeypatch):
    calls = []
    real = keys_module.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys_module.hmac, "compare_digest", spy)
    assert authenticate(db, world["acme"].read) is not None
    assert calls and all(isinstance(a, str) and len(a) == 64 for a, _ in calls)


def test_cors_is_closed_by_default(client, world):
    origin = {"Origin": "https://evil.example"}
    preflight = client.options("/acme/stats", headers=origin | {
        "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code in (400, 404, 405)
    assert not any(h.startswith("access-control-") for h in preflight.headers)
    response = client.get("/acme/stats", params=RANGE, headers=origin | bearer(world["acme"].read))
    assert response.status_code == 200
    assert not any(h.startswith("access-control-") for h in response.headers)
