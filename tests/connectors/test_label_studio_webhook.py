"""Label Studio webhooks, replayed from a real Label Studio 1.23.2 (SPEC §3 mapping).

The recording (see the fixture README): task 1 annotated with prediction region p1 and
manual r2, then p1 moved, r2 removed and r3 added; task 2 submitted empty; task 3
skipped; annotation 1 deleted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from annotation_insights.connectors import label_studio_sync
from connectors.conftest import WEBHOOKS

DAY = {"startDate": "2026-11-29", "endDate": "2026-11-30"}
URL = "/acme/integrations/label-studio"


def post(client, key, body, **params):
    return client.post(URL, params={"api_key": key, **params}, json=body)


def events_of(db, tenant):
    return db.read("SELECT type, image, labeler, annotation, model_assisted, class FROM events "
                   "WHERE workspace_id = :w ORDER BY time_us, type, annotation",
                   {"w": tenant.workspace.id})


def stats(client, tenant, **extra):
    r = client.get("/acme/stats", params={"api_key": tenant.read, **DAY, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_recorded_deliveries_become_the_documented_events(client, db, tenant, deliveries):
    answers = [post(client, tenant.write, d["body"]) for d in deliveries]
    assert [a.status_code for a in answers] == [200] * 6
    assert [a.json()["accepted"] for a in answers] == [0, 2, 3, 1, 0, 2]
    assert events_of(db, tenant) == [
        ("annotation.created", "1", "1", "1/p1", True, "boat"),
        ("annotation.created", "1", "1", "1/r2", True, "boat"),  # parent_prediction set
        ("annotation.created", "1", "1", "1/r3", True, "boat"),
        ("annotation.deleted", "1", "1", "1/r2", None, "boat"),
        ("annotation.updated", "1", "1", "1/p1", None, "boat"),
        ("image.marked_null", "2", "1", None, None, None),
        ("annotation.deleted", "1", "1", "1/p1", None, "boat"),
        ("annotation.deleted", "1", "1", "1/r3", None, "boat"),
    ]


def test_stats_after_the_recorded_session(client, tenant, deliveries):
    for d in deliveries[:5]:  # before the deletion, which lands at receive time
        assert post(client, tenant.write, d["body"]).status_code == 200
    body = stats(client, tenant)
    row, = body["data"]
    assert (row["projectId"], row["projectName"], row["projectType"], row["labelerId"]) == (
        "label-studio-1", "Harbor Boats", "object-detection", "1")
    assert (row["boxesAdded"], row["boxesRemoved"], row["boxesUpdated"], row["netBoxesAdded"],
            row["imagesLabeled"], row["markedNull"], row["modelAssisted"]) == (3, 1, 1, 2, 2, 1, 1)
    # The skipped task 3 counts nowhere.
    assert body["stats"]["numImagesLabeled"] == 2


def test_replayed_deliveries_are_duplicates_and_change_nothing(client, tenant, deliveries):
    for d in deliveries:
        post(client, tenant.write, d["body"])
    before = stats(client, tenant)
    for _ in range(3):
        for d in deliveries:
            r = post(client, tenant.write, d["body"])
            assert r.status_code == 200 and r.json()["accepted"] == 0, r.text
    assert stats(client, tenant) == before


def test_an_older_version_arriving_late_is_ignored(client, db, tenant, deliveries):
    created, updated = deliveries[1]["body"], deliveries[2]["body"]
    post(client, tenant.write, updated)
    r = post(client, tenant.write, created)
    assert r.json()["accepted"] == 0
    assert sorted(row[3] for row in events_of(db, tenant)) == ["1/p1", "1/r3"]


def test_bulk_annotations_created_lists(client, db, tenant, deliveries):
    one = deliveries[1]["body"]
    first, second = one["annotation"], dict(one["annotation"], id=7, task=2)
    bulk = {"action": "ANNOTATIONS_CREATED", "annotation": [first, second],
            "task": [one["task"], dict(one["task"], id=2)], "project": one["project"]}
    r = post(client, tenant.write, bulk)
    assert r.status_code == 200 and r.json() == {
        "action": "ANNOTATIONS_CREATED", "annotations": 2, "accepted": 4, "duplicates": 0}
    assert sorted({row[1] for row in events_of(db, tenant)}) == ["1", "2"]


def test_webhook_header_key_and_project_override(client, tenant, deliveries):
    r = client.post(URL, params={"project": "boats"}, json=deliveries[1]["body"],
                    headers={"Authorization": f"Bearer {tenant.write}"})
    assert r.status_code == 200 and r.json()["accepted"] == 2
    assert [row["projectId"] for row in stats(client, tenant)["data"]] == ["boats"]


@pytest.mark.parametrize("who, status", [("none", 401), ("read", 403), ("bogus", 401)])
def test_webhook_needs_a_write_key(client, tenant, deliveries, who, status):
    key = {"none": None, "read": tenant.read, "bogus": "ai_nope_nope"}[who]
    params = {"api_key": key} if key else {}
    assert client.post(URL, params=params, json=deliveries[1]["body"]).status_code == status


def test_unhandled_actions_are_acknowledged_and_bad_bodies_refused(client, tenant):
    r = post(client, tenant.write, {"action": "PROJECT_UPDATED", "project": {"id": 1}})
    assert r.status_code == 200 and r.json()["accepted"] == 0
    r = client.post(URL, params={"api_key": tenant.write}, content=b"{nope",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = post(client, tenant.write, {"action": "ANNOTATION_CREATED", "annotation": {"id": 1}})
    assert r.status_code == 400
    assert post(client, tenant.write, {"hello": 1}, project="Bad Slug").status_code == 400


def test_a_failure_before_commit_stores_neither_events_nor_state(client, db, tenant, deliveries,
                                                                monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(label_studio_sync, "_store_seen", crash)
    with pytest.raises(RuntimeError):  # the test client re-raises what a 500 hides
        post(client, tenant.write, deliveries[1]["body"])
    assert events_of(db, tenant) == []
    monkeypatch.undo()
    # Label Studio does not retry, but a replay (or the backfill) now gets everything.
    assert post(client, tenant.write, deliveries[1]["body"]).json()["accepted"] == 2


def test_webhook_answers_well_within_label_studios_timeout(client, tenant, deliveries):
    """Label Studio gives up after 1 s and never retries. The p99 target (100 ms) is
    measured by the benchmark in docs/connectors.md; on a shared CI machine this test
    guards the hard limit with a wide margin, and the typical case with one (a quarter of
    it: a PostgreSQL delivery's median once measured 123 ms in a loaded CI run). The test runner's
    own objects (every earlier test's, some 370,000 by now) are frozen for the loop, as a
    server freezes what its start-up made: a full collection pausing to scan them (the
    likeliest cause of one 0.51 s delivery in CI) is the runner's, not a server's."""
    import gc
    import statistics
    import time

    timings = []
    gc.collect()
    gc.freeze()
    try:
        for round_ in range(12):
            for d in deliveries:
                body = d["body"]
                for annotation in body.get("annotations") or [body.get("annotation") or {}]:
                    if "id" in annotation:  # a new annotation each round: real work, not replays
                        annotation["id"] = annotation["id"] % 1000 + 1000 * (round_ + 1)
                start = time.perf_counter()
                assert post(client, tenant.write, body).status_code == 200
                timings.append(time.perf_counter() - start)
    finally:
        gc.unfreeze()
    assert max(timings) < 0.5
    assert statistics.median(timings) < 0.25


_FIRST_WEBHOOKS = textwrap.dedent("""
    import gc, json, sys
    from fastapi.testclient import TestClient
    from annotation_insights.api.app import create_app
    from annotation_insights.settings import Settings
    from annotation_insights.store import open_database
    from annotation_insights.tenancy.keys import create_key
    from annotation_insights.tenancy.workspaces import create_workspace

    path, webhooks = sys.argv[1:]
    db = open_database(path)
    key = create_key(db, create_workspace(db, "acme"), ["write"]).key
    with TestClient(create_app(Settings(database=path), db)) as client:
        before, scanned = set(sys.modules), len(gc.get_objects())
        for line in open(webhooks):
            r = client.post("/acme/integrations/label-studio", params={"api_key": key},
                            json=json.loads(line)["body"])
            assert r.status_code == 200, r.text
        print(json.dumps([sorted(set(sys.modules) - before), scanned]))
    db.close()
""")


def test_a_started_server_pays_no_first_use_costs_in_a_webhook(tmp_path):
    """Importing pandas and pyarrow's query engine on the first delivery took up to 1.3 s,
    past Label Studio's 1 s limit: startup pays them. And a full garbage collection no
    longer scans the ~100,000 objects start-up made (80-100 ms a pass). Run in a new
    process, as this one has imported everything already."""
    run = subprocess.run([sys.executable, "-c", _FIRST_WEBHOOKS, str(tmp_path / "x.duckdb"),
                          str(WEBHOOKS)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    imported, scanned = json.loads(run.stdout.splitlines()[-1])
    assert imported == []
    assert scanned < 10_000
