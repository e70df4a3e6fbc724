"""Service-level behaviour: health, API docs, and the one error shape for routes that do
not exist, wrong methods and unexpected failures."""

from __future__ import annotations

import logging
import re

from fastapi.testclient import TestClient

from annotation_insights.api.app import GZIP_MINIMUM_BYTES, create_app
from annotation_insights.api.routes import stats as stats_route
from annotation_insights.settings import Settings
from api.helpers import MARCH, assert_error, bearer, event, get_stats, post_events


def test_health_and_the_api_docs_are_served(client, database_url):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["backend"] == ("postgresql" if database_url.startswith("postgresql") else "duckdb")
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger" in response.text.lower()
    spec = client.get("/openapi.json").json()
    assert "get" in spec["paths"]["/{workspace}/stats"]
    assert "post" in spec["paths"]["/{workspace}/events"]
    assert {"put"} <= set(spec["paths"]["/{workspace}/projects/{slug}"])
    params = {p["name"] for p in spec["paths"]["/{workspace}/stats"]["get"]["parameters"]}
    assert {"api_key", "startDate", "endDate", "project", "userId"} <= params


def test_large_answers_are_compressed_for_clients_that_accept_it(client, tenant):
    """A workspace's answer of 800 `data[]` rows goes gzip-compressed to a client that
    accepts it, as browsers and HTTP libraries do, and reads the same; one project's 40
    rows go as they are."""
    events = [event(f"e{i}", project=f"project-{i % 20}", labeler=f"labeler-{i // 20}", image=f"i{i}")
              for i in range(800)]
    assert post_events(client, tenant.write, events).status_code == 200

    def stats(encoding: str, **params):
        return client.get("/acme/stats", params=MARCH | {"api_key": tenant.read} | params,
                          headers={"Accept-Encoding": encoding})

    gzipped, plain = stats("gzip"), stats("identity")
    assert gzipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert gzipped.json() == plain.json() and len(plain.json()["data"]) == 800
    assert len(plain.content) > GZIP_MINIMUM_BYTES
    assert int(gzipped.headers["content-length"]) < len(plain.content) / 5
    one_project = stats("gzip", project="project-0")
    assert len(one_project.json()["data"]) == 40 and "content-encoding" not in one_project.headers


def test_unknown_routes_are_404_in_the_error_shape(client, tenant):
    for method, path in (("GET", "/nope"), ("GET", "/acme/stats/extra"), ("POST", "/acme/nope"),
                         ("GET", "/acme/projects/p/labelers")):
        response = client.request(method, path, headers=bearer(tenant.all))
        assert_error(response, 404, "not_found", f"No route for {method} {path}")


def test_wrong_methods_are_405_in_the_error_shape(client, tenant):
    cases = [("DELETE", "/acme/stats", "GET"), ("GET", "/acme/events", "POST"),
             ("POST", "/acme/projects/p", "PUT"), ("GET", "/", "POST"), ("POST", "/health", "GET")]
    for method, path, allowed in cases:
        response = client.request(method, path, headers=bearer(tenant.all))
        assert_error(response, 405, "method_not_allowed", f"{method} is not allowed on {path}",
                     f"use {allowed}")
        assert response.headers["allow"] == allowed


def test_an_unexpected_failure_is_500_in_the_error_shape_without_the_key_in_logs(
        db, database_url, tenant, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("store exploded")

    monkeypatch.setattr(stats_route, "run_stats", broken)
    caplog.set_level(logging.INFO)
    app = create_app(Settings(database=database_url), db)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = get_stats(client, tenant.read, **MARCH)
    assert_error(response, 500, "internal_error", "internal error", "nothing was changed")
    assert "store exploded" not in response.text
    server_logs = [r for r in caplog.records if not r.name.startswith("httpx")]
    assert any("unexpected error on GET /acme/stats" in r.getMessage() for r in server_logs)
    assert all(tenant.read not in r.getMessage() for r in server_logs)


def test_docs_work_offline(client):
    """Every asset /docs needs is served by us: no CDN at runtime."""
    page = client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
