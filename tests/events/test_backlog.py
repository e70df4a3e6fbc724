"""DuckDB's rollup backlog: acknowledged events count in the very next stats answer,
survive a crash before their rollups were applied, and are applied exactly once."""

from __future__ import annotations

import datetime as dt

import pytest

from annotation_insights.events import backlog as backlog_module
from annotation_insights.events.ingest import ingest, validate_batch
from annotation_insights.metrics.query import StatsQuery, run_stats
from annotation_insights.store import open_database
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


def test_ingest_defers_rollups_and_the_next_stats_answer_applies_them(db):
    workspace = create_workspace(db, "acme")
    events = worked_events()
    ingest(db, workspace, validate_batch(events[:5]))
    ingest(db, workspace, validate_batch(events[5:]))
    assert _sessions(db) == 0  # acknowledged and stored, rollups not applied yet
    assert db.read("SELECT count(*) FROM events")[0][0] == len(events)
    assert _stats(db, workspace) == WORKED_STATS
    assert db.read("SELECT count(*) FROM rollup_backlog")[0][0] == 0
    assert _stats(db, workspace) == WORKED_STATS  # applied once, not again


def test_a_crash_before_the_rollups_were_applied_loses_nothing(database_url):
    db = open_database(database_url)
    workspace = create_workspace(db, "acme")
    ingest(db, workspace, validate_batch(worked_events()))
    db._conn.close()  # the process dies: no catch-up, no clean close
    reopened = open_database(database_url)
    try:
        assert reopened.read("SELECT count(*) FROM rollup_backlog")[0][0] == 10
        assert _stats(reopened, get_workspace(reopened, "acme")) == WORKED_STATS
        assert reopened.read("SELECT count(*) FROM rollup_backlog")[0][0] == 0
    finally:
        reopened.close()


def test_a_full_backlog_is_applied_by_the_batch_that_fills_it(db, monkeypatch):
    monkeypatch.setattr(backlog_module, "APPLY_AT", 6)
    workspace = create_workspace(db, "acme")
    events = worked_events()
    ingest(db, workspace, validate_batch(events[:5]))
    assert _sessions(db) == 0
    ingest(db, workspace, validate_batch(events[5:]))
    assert _sessions(db) > 0 and db.read("SELECT count(*) FROM rollup_backlog")[0][0] == 0
    assert _stats(db, workspace) == WORKED_STATS


def test_closing_the_store_applies_the_backlog(database_url):
    db = open_database(database_url)
    ingest(db, create_workspace(db, "acme"), validate_batch(worked_events()))
    db.close()
    reopened = open_database(database_url)
    try:
        assert _sessions(reopened) > 0
        assert reopened.read("SELECT count(*) FROM rollup_backlog")[0][0] == 0
    finally:
        reopened.close()
