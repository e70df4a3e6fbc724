"""DuckDB's rollup backlog: acknowledged events count in the very next stats answer,
survive a crash before their rollups were applied, are applied exactly once, and are
applied by themselves once ingest pauses."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from annotation_insights.events import backlog as backlog_module
from annotation_insights.events.ingest import ingest, validate_batch
from annotation_insights.metrics.query import StatsQuery, run_stats
from annotation_insights.store import open_database
from annotation_insights.store.duckdb_backend import DuckDBTransaction
from annotation_insights.store.queries import ingest as ingest_sql
from annotation_insights.tenancy.workspaces import create_workspace, get_workspace
from support.worked_example import worked_events

pytestmark = pytest.mark.backends("duckdb")

WORKED_STATS = {"numImagesLabeled": 2, "numBoxesDrawn": 1, "numImagesMarkedNull": 1,
                "totalImagesUsingModelAssist": 2, "numBoxesAdded": 3, "numBoxesRemoved": 2,
                "numBoxesUpdated": 1, "netBoxesAdded": 2, "netBoxesUpdated": 1, "approvalRate": 100}


def _stats(db, workspace) -> dict:
    query = StatsQuery.parse(start="2024-03-01", end="2024-03-02", availability=dt.date(2023, 8, 1))
    return run_stats(db, workspace, query)["stats"]


def _sessions(db) -> int:
    return db.read("SELECT count(*) FROM sessions")[0][0]


def _backlogged(db) -> int:
    """Stored events whose rollups are not applied yet, as a process starting now sees them."""
    return db.read("SELECT count(*) FROM events WHERE backlog_batch > "
                   "(SELECT applied_through FROM rollup_progress)")[0][0]


@pytest.fixture(autouse=True)
def no_pause_in_ingest_applies(monkeypatch):
    """Tests that look at a backlog before it is applied must not race the worker that
    applies it after a pause; those about the worker set their own pause."""
    monkeypatch.setattr(backlog_module, "APPLY_WHEN_IDLE", 3600)


def _workers() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "rollup-backlog"}


def test_ingest_defers_rollups_and_the_next_stats_answer_applies_them(db):
    workspace = create_workspace(db, "acme")
    events = worked_events()
    ingest(db, workspace, validate_batch(events[:5]))
    ingest(db, workspace, validate_batch(events[5:]))
    assert _sessions(db) == 0  # acknowledged and stored, rollups not applied yet
    assert db.read("SELECT count(*) FROM events")[0][0] == len(events)
    assert _stats(db, workspace) == WORKED_STATS
    assert _backlogged(db) == 0
    assert _stats(db, workspace) == WORKED_STATS  # applied once, not again


def test_a_crash_before_the_rollups_were_applied_loses_nothing(database_url):
    db = open_database(database_url)
    workspace = create_workspace(db, "acme")
    ingest(db, workspace, validate_batch(worked_events()))
    db._conn.close()  # the process dies: no catch-up, no clean close
    reopened = open_database(database_url)
    try:
        assert _backlogged(reopened) == 10
        assert _stats(reopened, get_workspace(reopened, "acme")) == WORKED_STATS
        assert _backlogged(reopened) == 0
    finally:
        reopened.close()


def test_a_restart_numbers_new_batches_after_those_applied(database_url):
    """Numbered from the start again, a batch stored after a restart would look applied
    to the process after a crash, and never be counted."""
    first, second = worked_events(project="p", prefix="p"), worked_events(project="q", prefix="q")
    with open_database(database_url) as db:
        ingest(db, create_workspace(db, "acme"), validate_batch(first))  # applied at close
    db = open_database(database_url)
    ingest(db, get_workspace(db, "acme"), validate_batch(first + second))
    db._conn.close()  # dies with the second project's events backlogged
    with open_database(database_url) as reopened:
        assert _backlogged(reopened) == len(second)
        reopened.rollup_backlog.catch_up()
        assert reopened.read("SELECT count(DISTINCT project), sum(boxes_added) FROM sessions")[0] == (
            2, 2 * WORKED_STATS["numBoxesAdded"])


def test_a_full_backlog_is_applied_by_the_batch_that_fills_it(db, monkeypatch):
    monkeypatch.setattr(backlog_module, "APPLY_AT", 6)
    workspace = create_workspace(db, "acme")
    events = worked_events()
    ingest(db, workspace, validate_batch(events[:5]))
    assert _sessions(db) == 0
    ingest(db, workspace, validate_batch(events[5:]))
    assert _sessions(db) > 0 and _backlogged(db) == 0
    assert _stats(db, workspace) == WORKED_STATS


def test_closing_the_store_applies_the_backlog(database_url):
    db = open_database(database_url)
    ingest(db, create_workspace(db, "acme"), validate_batch(worked_events()))
    db.close()
    reopened = open_database(database_url)
    try:
        assert _sessions(reopened) > 0
        assert _backlogged(reopened) == 0
    finally:
        reopened.close()


def test_the_backlog_is_applied_once_ingest_pauses(db, monkeypatch):
    monkeypatch.setattr(backlog_module, "APPLY_WHEN_IDLE", 0.05)
    workspace = create_workspace(db, "acme")
    ingest(db, workspace, validate_batch(worked_events()))
    deadline = time.monotonic() + 10
    while _backlogged(db) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _backlogged(db) == 0 and _sessions(db) > 0  # applied without any read asking
    assert _stats(db, workspace) == WORKED_STATS


def test_batches_closer_together_than_the_pause_share_one_catch_up(db, monkeypatch):
    monkeypatch.setattr(backlog_module, "APPLY_WHEN_IDLE", 2.0)
    workspace = create_workspace(db, "acme")
    events = worked_events()
    for index, one in enumerate(events):
        ingest(db, workspace, validate_batch([one]))
        time.sleep(0.05)
        assert _sessions(db) == 0, f"applied after batch {index + 1} of a steady stream"
    assert _backlogged(db) == len(events)
    assert _stats(db, workspace) == WORKED_STATS


def test_closing_the_store_stops_the_worker_and_applies_what_is_left(database_url):
    before = _workers()
    db = open_database(database_url)
    ingest(db, create_workspace(db, "acme"), validate_batch(worked_events()))
    worker = _workers() - before
    assert len(worker) == 1
    db.close()
    assert not worker.pop().is_alive()
    with open_database(database_url) as reopened:
        assert _backlogged(reopened) == 0 and _sessions(reopened) > 0


def test_batches_written_during_a_catch_up_leave_theirs_to_a_later_one(db, monkeypatch):
    """A batch that ends while the full backlog is being applied finds it due, waits for
    that catch-up, and must not start another for the few batches written meanwhile."""
    monkeypatch.setattr(backlog_module, "APPLY_AT", 6)
    workspace = create_workspace(db, "acme")
    events = worked_events()
    ingest(db, workspace, validate_batch(events[:5]))
    deriving, go = threading.Event(), threading.Event()
    derive = backlog_module.session_facts

    def held_up(*args, **kwargs):
        deriving.set()
        go.wait(10)
        return derive(*args, **kwargs)

    monkeypatch.setattr(backlog_module, "session_facts", held_up)
    filling = threading.Thread(target=ingest, args=(db, workspace, validate_batch(events[5:8])))
    filling.start()
    assert deriving.wait(10)  # the backlog is full and being applied
    later = threading.Thread(target=ingest, args=(db, workspace, validate_batch(events[8:])))
    later.start()
    deadline = time.monotonic() + 10
    while db.read("SELECT count(*) FROM events")[0][0] < len(events) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the later batch is stored and waits for the catch-up
    go.set()
    filling.join(10)
    later.join(10)
    assert _backlogged(db) == 2  # the later batch's events, for the next catch-up
    assert _stats(db, workspace) == WORKED_STATS


def test_a_batch_held_up_in_flight_is_no_pause(db, monkeypatch):
    """A batch waiting for the store (here: for another write) is still ingest going on."""
    monkeypatch.setattr(backlog_module, "APPLY_WHEN_IDLE", 1.0)
    workspace = create_workspace(db, "acme")
    events = worked_events()
    first, second = validate_batch(events[:5]), validate_batch(events[5:])
    derived = []
    derive = backlog_module.session_facts
    monkeypatch.setattr(backlog_module, "session_facts",
                        lambda *args, **kwargs: derived.append(time.monotonic()) or derive(*args, **kwargs))
    ingest(db, workspace, first)
    with db.transaction():  # holds the store's writer until well past the pause
        held_up = threading.Thread(target=ingest, args=(db, workspace, second))
        held_up.start()
        time.sleep(2.0)
        assert derived == [], "applied while a batch was in flight"
    held_up.join(10)
    assert _stats(db, workspace) == WORKED_STATS


def test_the_batches_of_one_group_commit_are_stored_together_each_as_its_own(db, monkeypatch):
    """Batches that wait while another is written are written as one group, their new
    events by one statement: each event keeps its workspace and its batch's number, and
    an id repeated by a later batch of the group is stored once."""
    acme, other = create_workspace(db, "acme"), create_workspace(db, "other")
    events = worked_events()
    batches = {"alone": (acme, events[:3]), "b1": (acme, events[3:6]), "b2": (acme, events[5:8]),
               "b3": (acme, events[8:]), "other": (other, worked_events(prefix="o"))}
    inserts = []
    execute = DuckDBTransaction.execute
    monkeypatch.setattr(DuckDBTransaction, "execute", lambda tx, sql, params=None: (
        inserts.append(sql) if sql == ingest_sql.INSERT_EVENTS else None) or execute(tx, sql, params))
    results, threads = {}, {}
    backlog = db.rollup_backlog

    def post(name):
        workspace, sent = batches[name]
        batch = validate_batch(sent)
        threads[name] = threading.Thread(target=lambda: results.update({name: ingest(db, workspace, batch)}))
        threads[name].start()

    def wait_for(condition):
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)

    with db.transaction():  # holds the writer: the first batch waits for it as leader
        post("alone")
        wait_for(lambda: backlog._leader.locked() and not backlog._queue)
        for name in ("b1", "b2", "b3", "other"):
            post(name)
        wait_for(lambda: len(backlog._queue) == 4)
    for thread in threads.values():
        thread.join(10)
    assert len(inserts) == 2  # the first batch alone, then the four that waited
    # b1 and b2 share one event: whichever the group holds first stores it.
    first, second = ("b1", "b2") if results["b1"].duplicates == 0 else ("b2", "b1")
    assert {name: (r.accepted, r.duplicates) for name, r in results.items()} == {
        "alone": (3, 0), first: (3, 0), second: (2, 1), "b3": (2, 0), "other": (10, 0)}
    stored = {}
    for workspace_id, event_id, number in db.read("SELECT workspace_id, event_id, backlog_batch FROM events"):
        stored.setdefault(number, set()).add((workspace_id, event_id))
    sent = {name: {(workspace.id, e["id"]) for e in batch} for name, (workspace, batch) in batches.items()}
    sent[second] -= sent[first]
    assert sorted(map(sorted, stored.values())) == sorted(map(sorted, sent.values()))
    assert _stats(db, acme) == WORKED_STATS and _stats(db, other) == WORKED_STATS


def test_an_event_resent_under_another_project_leaves_that_project_unnamed(db):
    """Only new events name their projects and labelers: a re-sent id is not stored
    again, so what it says now creates no placeholder."""
    workspace = create_workspace(db, "acme")
    first = worked_events()[:1]
    ingest(db, workspace, validate_batch(first))
    ingest(db, workspace, validate_batch([{**first[0], "project": "elsewhere", "labeler": "Z"},
                                          *worked_events(prefix="f")[1:3]]))
    assert db.read("SELECT slug FROM projects") == [("p",)]
    assert db.read("SELECT id FROM labelers ORDER BY id") == [("A",)]


def test_a_group_whose_events_cannot_be_stored_fails_whole_and_stores_nothing(db, monkeypatch):
    """The group's events are inserted last, just before the commit: an insert that
    fails there must roll the group back, leaving every batch's ids free to send again."""
    workspace = create_workspace(db, "acme")
    events = worked_events()
    execute = DuckDBTransaction.execute

    def failing(tx, sql, params=None):
        if sql == ingest_sql.INSERT_EVENTS:
            raise RuntimeError("disk full")
        return execute(tx, sql, params)

    monkeypatch.setattr(DuckDBTransaction, "execute", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest(db, workspace, validate_batch(events))
    monkeypatch.setattr(DuckDBTransaction, "execute", execute)
    assert db.read("SELECT count(*) FROM events")[0][0] == 0
    assert ingest(db, workspace, validate_batch(events)).accepted == len(events)
    assert _stats(db, workspace) == WORKED_STATS
