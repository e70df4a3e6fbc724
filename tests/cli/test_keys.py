"""`annotation-insights keys create|list|revoke`, checked against a real server over HTTP."""

from __future__ import annotations

import re

import httpx

from support.worked_example import WORKED_RANGE, worked_events

from .helpers import Server, assert_one_line_error, check, run_cli

KEY = re.compile(r"ai_([0-9a-f]{12})_\S{20,}")


def create(database: str, cwd, *scopes: str) -> tuple[str, str]:
    """(the key, everything printed before it) for `keys create acme [--scope S ...]`."""
    flags = [arg for scope in scopes for arg in ("--scope", scope)]
    lines = check(run_cli("keys", "create", "acme", *flags, database=database, cwd=cwd)).stdout.splitlines()
    assert KEY.fullmatch(lines[-1]), lines
    return lines[-1], "\n".join(lines[:-1])


def key_id(key: str) -> str:
    return KEY.fullmatch(key).group(1)


def status(http: httpx.Client, method: str, path: str, key: str, **kwargs) -> int:
    return http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs).status_code


def stats_status(http: httpx.Client, key: str) -> int:
    """Roboflow's way of passing the key: ?api_key=."""
    return http.get("/acme/stats", params={"api_key": key, **WORKED_RANGE}).status_code


def test_keys_scopes_listing_and_revocation_over_http(database_url, tmp_path):
    check(run_cli("workspace", "create", "acme", database=database_url, cwd=tmp_path))
    full, said = create(database_url, tmp_path)
    assert "read, write, admin" in said and key_id(full) in said and full not in said
    reader, said = create(database_url, tmp_path, "read")
    assert "scopes read." in said
    writer, said = create(database_url, tmp_path, "read", "write")
    assert "scopes read, write." in said
    assert len({full, reader, writer}) == 3

    listed = check(run_cli("keys", "list", "acme", database=database_url, cwd=tmp_path)).stdout
    rows = {line.split("\t")[0]: line.split("\t") for line in listed.splitlines()}
    assert set(rows) == {key_id(full), key_id(reader), key_id(writer)}
    assert rows[key_id(full)][1] == "read write admin" and rows[key_id(reader)][1] == "read"
    assert rows[key_id(writer)][1] == "read write"
    assert all(row[-1] == "active" for row in rows.values())
    for key in (full, reader, writer):
        assert key.split("_", 2)[2] not in listed  # the secret part is never printed again

    is_duckdb = not database_url.startswith("postgresql://")
    with Server(tmp_path, database=database_url) as server, \
            httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.post("/", params={"api_key": reader}).json() == {"workspace": "acme"}
        assert status(http, "POST", "/acme/events", full, json=worked_events()) == 200
        assert status(http, "PUT", "/acme/projects/p", full, json={"name": "P", "type": "object-detection"}) == 200
        assert stats_status(http, full) == 200
        assert stats_status(http, reader) == 200
        assert status(http, "POST", "/acme/events", reader, json=worked_events()) == 403
        assert status(http, "POST", "/acme/events", writer, json=worked_events()) == 200
        assert status(http, "PUT", "/acme/projects/p", writer, json={"name": "P"}) == 403

        if is_duckdb:
            # One process per DuckDB file: other commands say so instead of waiting or crashing.
            for args in (["keys", "create", "acme"], ["keys", "revoke", key_id(full)]):
                assert_one_line_error(run_cli(*args, database=database_url, cwd=tmp_path),
                                      "in use", "serve")
            assert server.stop()[0] == 0, server.log()
        revoked = check(run_cli("keys", "revoke", key_id(full), database=database_url, cwd=tmp_path))
        assert f"Revoked key {key_id(full)} of workspace acme" in revoked.stdout
        # A prefix of the key itself (as pasted from a config file) names it too.
        check(run_cli("keys", "revoke", reader[:10], database=database_url, cwd=tmp_path))
        assert_one_line_error(run_cli("keys", "revoke", "ffff0000ffff", database=database_url,
                                      cwd=tmp_path), "ffff0000ffff")
        if is_duckdb:
            server.restart()
        # On PostgreSQL the running server sees the revocations at once.
        assert stats_status(http, full) == 401
        assert status(http, "POST", "/acme/events", full, json=worked_events(prefix="late")) == 401
        assert stats_status(http, reader) == 401
        assert stats_status(http, writer) == 200
        assert server.stop()[0] == 0, server.log()

    listed = check(run_cli("keys", "list", "acme", database=database_url, cwd=tmp_path)).stdout
    state = {line.split("\t")[0]: line.split("\t")[-1] for line in listed.splitlines()}
    assert state[key_id(writer)] == "active"
    assert state[key_id(full)].startswith("revoked") and state[key_id(reader)].startswith("revoked")
