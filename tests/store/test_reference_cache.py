"""Reference data remembered between requests (`store/reference_cache.py`): a change is
seen by the very next request, however it was written, and nothing outlives its store."""

from __future__ import annotations

import shutil
import threading

import pytest

from annotation_insights.store import open_database
from annotation_insights.store.reference_cache import ReferenceCache, writes_reference
from annotation_insights.tenancy.keys import authenticate, create_key, revoke_key
from annotation_insights.tenancy.workspaces import create_workspace
from api.helpers import MARCH, assert_unauthorized, bearer, event, get_stats, ingest_ok, stats_ok


def test_names_changed_after_an_answer_show_in_the_next_answer(client, tenant):
    ingest_ok(client, tenant.write, [event("e1", project="p1", labeler="alice")])
    first = stats_ok(client, tenant.read)
    assert first["data"][0]["projectName"] == "p1" and first["labelers"][0]["displayName"] == "alice"

    admin = bearer(tenant.admin)
    assert client.put("/acme/projects/p1", json={"name": "Kitchens"}, headers=admin).status_code == 200
    assert client.put("/acme/labelers/alice", json={"displayName": "Alice A."},
                      headers=admin).status_code == 200
    ingest_ok(client, tenant.write, [event("e2", project="p2", labeler="bob")])  # placeholders

    answer = stats_ok(client, tenant.read)
    assert {(row["projectId"], row["projectName"]) for row in answer["data"]} == {
        ("p1", "Kitchens"), ("p2", "p2")}
    assert [(labeler["id"], labeler["displayName"]) for labeler in answer["labelers"]] == [
        ("alice", "Alice A."), ("bob", "bob")]
    series = client.get("/acme/stats/timeseries", params=MARCH | {"groupBy": "labeler"},
                        headers=bearer(tenant.read)).json()
    assert series["groups"] == [{"id": "alice", "name": "Alice A."}, {"id": "bob", "name": "bob"}]


def test_a_key_revoked_through_another_handle_on_the_store_is_refused(client, tenant, database_url):
    assert get_stats(client, tenant.read, **MARCH).status_code == 200  # the key is remembered
    with open_database(database_url) as other:  # the same file, or another PostgreSQL session
        revoke_key(other, tenant.read)
    assert_unauthorized(get_stats(client, tenant.read, **MARCH), "revoked")


def test_a_new_store_at_the_path_of_a_closed_one_knows_none_of_its_keys(tmp_path):
    path, elsewhere = tmp_path / "insights.duckdb", tmp_path / "elsewhere.duckdb"
    with open_database(str(path)) as db:
        key = create_key(db, create_workspace(db, "acme")).key
        assert authenticate(db, key) is not None  # remembered
    with open_database(str(elsewhere)) as db:
        create_workspace(db, "acme")  # the same workspace id and slug, none of its keys
    shutil.copyfile(elsewhere, path)
    with open_database(str(path)) as db:
        assert authenticate(db, key) is None


def test_a_remembered_answer_serves_only_its_generation():
    cache, loads = ReferenceCache(), []

    def load(answer):
        return lambda: loads.append(answer) or answer

    assert cache.get("k", cache.generation, load("a")) == "a"
    assert cache.get("k", cache.generation, load("b")) == "a"  # remembered
    stale = cache.generation
    cache.changed()
    assert cache.get("k", stale, load("c")) == "c"  # a reader from before the change loads
    assert cache.get("k", cache.generation, load("d")) == "d"  # ... and its answer is not kept
    assert cache.get("k", cache.generation, load("e")) == "d"
    assert loads == ["a", "c", "d"]


def test_an_answer_loaded_while_a_change_commits_is_not_remembered():
    cache = ReferenceCache()
    loading, committed = threading.Event(), threading.Event()

    def slow_load():
        loading.set()
        committed.wait(5)
        return "before the change"

    reader = threading.Thread(target=cache.get, args=("k", cache.generation, slow_load))
    reader.start()
    loading.wait(5)
    cache.changed()
    committed.set()
    reader.join()
    assert cache.get("k", cache.generation, lambda: "after the change") == "after the change"


def test_a_full_cache_starts_over_instead_of_growing():
    cache = ReferenceCache(max_entries=3)
    for key in range(10):
        cache.get(key, cache.generation, lambda: "answer")
    assert len(cache._answers) <= 3


@pytest.mark.parametrize("sql, writes", [
    ("INSERT INTO projects (workspace_id, slug) VALUES (1, 'p')", True),
    ("INSERT INTO labelers AS l (workspace_id, id) SELECT 1, 'x'", True),
    ("update api_keys set revoked_at = now()", True),
    ("DELETE FROM workspaces WHERE id = 1", True),
    ("INSERT INTO projects_archive SELECT * FROM projects", False),
    ("INSERT INTO sessions SELECT * FROM stage_sessions", False),
    ("SELECT slug FROM projects", False),
])
def test_writes_to_reference_tables_are_told_by_their_text(sql, writes):
    assert writes_reference(sql) is writes
