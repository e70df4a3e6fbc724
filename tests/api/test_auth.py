"""SPEC §2: API keys (query or Bearer), 401 vs 403, scopes, and `POST /?api_key=`."""

from __future__ import annotations

from annotation_insights.tenancy.keys import create_key, revoke_key
from api.helpers import (
    MARCH, ZERO_TOTALS, assert_error, assert_unauthorized, bearer, event, get_stats, ingest_ok,
    stats_ok)

# (method, path, body, params, scope the call needs)
CALLS = [
    ("GET", "/acme/stats", None, MARCH, "read"),
    ("GET", "/acme/projects", None, {}, "read"),
    ("GET", "/acme/labelers", None, {}, "read"),
    ("POST", "/acme/events", [], {}, "write"),
    ("PUT", "/acme/projects/p", {"name": "Project P"}, {}, "admin"),
    ("PUT", "/acme/labelers/alice", {"displayName": "Alice"}, {}, "admin"),
]
VIAS = ("query", "header")


def call(client, method, path, body=None, params=None, *, key=None, via="header"):
    params = dict(params or {})
    headers = {}
    if key is not None and via == "header":
        headers = bearer(key)
    elif key is not None:
        params["api_key"] = key
    return client.request(method, path, json=body, params=params, headers=headers)


def test_key_accepted_as_query_parameter_or_bearer_header(client, tenant):
    for via in VIAS:
        for method, path, body, params, _ in CALLS:
            response = call(client, method, path, body, params, key=tenant.all, via=via)
            assert response.status_code == 200, (via, method, path, response.text)
    # The scheme is case-insensitive, and a header key wins over a query one.
    headers = {"Authorization": f"bearer {tenant.read}"}
    assert client.get("/acme/stats", params=MARCH, headers=headers).status_code == 200
    response = client.get("/acme/stats", params=MARCH | {"api_key": "ai_000000000000_unknown"},
                          headers=bearer(tenant.read))
    assert response.status_code == 200, response.text


def test_missing_key_is_401_on_every_endpoint(client, tenant):
    for method, path, body, params, _ in CALLS + [("POST", "/", None, {}, None)]:
        response = call(client, method, path, body, params)
        assert_unauthorized(response, "API key is required", "api_key", "Bearer")
    headers = {"Authorization": f"Basic {tenant.read}"}
    response = client.get("/acme/stats", params=MARCH, headers=headers)
    assert_unauthorized(response, "API key is required")
    response = client.get("/acme/stats", params=MARCH | {"api_key": ""})
    assert_unauthorized(response, "API key is required")


def test_unknown_key_is_401_even_on_another_workspace(client, tenant, other):
    forged = tenant.all[:-4] + ("AAAA" if not tenant.all.endswith("AAAA") else "BBBB")
    for via in VIAS:
        for key in (forged, "not-a-key-at-all"):
            for method, path, body, params, _ in CALLS + [("POST", "/", None, {}, None)]:
                response = call(client, method, path, body, params, key=key, via=via)
                assert_unauthorized(response, "does not exist or has been revoked")
    assert_unauthorized(get_stats(client, forged, workspace="other", **MARCH))


def test_revoked_key_is_401_and_other_keys_keep_working(client, db, tenant):
    created = create_key(db, tenant.workspace)
    assert call(client, "GET", "/acme/stats", params=MARCH, key=created.key).status_code == 200
    revoke_key(db, created.id)
    for via in VIAS:
        for method, path, body, params, _ in CALLS + [("POST", "/", None, {}, None)]:
            response = call(client, method, path, body, params, key=created.key, via=via)
            assert_unauthorized(response, "does not exist or has been revoked")
        response = call(client, "GET", "/acme/stats", params=MARCH, key=tenant.read, via=via)
        assert response.status_code == 200


def test_key_of_another_workspace_is_403_and_touches_nothing(client, tenant, other):
    ingest_ok(client, tenant.write, [event("e1")])
    before = stats_ok(client, tenant.read)
    for method, path, body, params, _ in CALLS:
        for via in VIAS:
            response = call(client, method, path, body, params, key=other.all, via=via)
            assert_error(response, 403, "forbidden", "another workspace", "'acme'")
    response = call(client, "POST", "/acme/events", [event("e2", project="leak")], key=other.all)
    assert_error(response, 403, "forbidden")
    assert stats_ok(client, tenant.read) == before
    assert stats_ok(client, other.read, workspace="other")["stats"] == ZERO_TOTALS
    assert client.get("/acme/projects", headers=bearer(tenant.read)).json() == [
        {"slug": "p", "name": "p", "type": "object-detection"}]
    response = get_stats(client, tenant.all, workspace="nowhere", **MARCH)
    assert_error(response, 403, "forbidden", "another workspace", "'nowhere'")


def test_each_endpoint_needs_exactly_its_scope(client, tenant):
    keys = {"read": tenant.read, "write": tenant.write, "admin": tenant.admin}
    for method, path, body, params, needed in CALLS:
        for scope, key in keys.items():
            response = call(client, method, path, body, params, key=key)
            if scope == needed:
                assert response.status_code == 200, (method, path, scope, response.text)
            else:
                assert_error(response, 403, "forbidden", f"lacks the '{needed}' scope")


def test_post_root_names_the_workspace_of_any_live_key(client, tenant, other):
    for via in VIAS:
        for key in (tenant.read, tenant.write, tenant.admin, tenant.all):
            response = call(client, "POST", "/", key=key, via=via)
            assert response.status_code == 200, response.text
            assert response.json() == {"workspace": "acme"}
        assert call(client, "POST", "/", key=other.read, via=via).json() == {"workspace": "other"}
