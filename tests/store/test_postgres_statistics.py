"""PostgreSQL plans a batch's merges by the statistics it sampled. Fact tables grow with
every batch, faster than autovacuum samples them, and a batch merges facts of the newest
dates, past any sample: so planned, a merge took the stored facts in range for one row
and compared each of them with every staged fact (an HTTP batch's merge 0.6 s instead of
~2 ms at 200,000 events)."""

from __future__ import annotations

import datetime as dt

import pytest

from annotation_insights.demo.generator import generate_events, spec_for_event_count
from annotation_insights.events.ingest import ingest, validate_batch
from annotation_insights.store.queries import ingest as ingest_sql
from annotation_insights.store.postgres_backend import PostgresTransaction
from annotation_insights.tenancy.workspaces import create_workspace

FACT_TABLES = ("sessions", "session_images", "session_annotations")
BATCH = 5_000


@pytest.mark.backends("postgresql")
def test_batches_keep_the_fact_tables_statistics_and_merges_join_by_key(db, monkeypatch):
    for table in FACT_TABLES:  # only the store's own sampling counts here
        with db.transaction() as tx:
            tx.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    merges = []  # per lookup or merge, its scans of stored facts: (rows planned, rows read) a loop
    execute, stage_query = PostgresTransaction.execute, PostgresTransaction.stage_query

    def explain(tx, sql, params):
        plan = execute(tx, f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)[0][0][0]["Plan"]
        merges.append(list(_fact_scans(plan)))

    def explained(tx, sql, params=None):
        if sql != ingest_sql.MERGE_SESSION_ANNOTATIONS[False][0]:  # the update; the insert reads no fact
            return execute(tx, sql, params)
        explain(tx, sql, params)  # runs the statement
        return []

    def explained_lookup(tx, name, sql, params=None):
        if sql == ingest_sql.LOOKUP_SESSION_ANNOTATIONS[False]:
            explain(tx, sql, params)
        stage_query(tx, name, sql, params)

    monkeypatch.setattr(PostgresTransaction, "execute", explained)
    monkeypatch.setattr(PostgresTransaction, "stage_query", explained_lookup)
    spec = spec_for_event_count(150_000, projects=3, labelers=12, days=20, end=dt.date(2026, 6, 30))
    events = list(generate_events(spec))
    workspace = create_workspace(db, "grow")
    for start in range(0, len(events), BATCH):
        ingest(db, workspace, validate_batch(events[start:start + BATCH]))

    stored = db.read("SELECT count(*) FROM session_annotations")[0][0]
    sampled = db.read("SELECT reltuples FROM pg_class WHERE relname = 'session_annotations'")[0][0]
    assert stored > 100_000 and sampled >= 0.75 * stored
    assert len(merges) > 10 and all(merges)
    for scans in merges:  # the planner knows how many facts a merge reads
        assert all(read <= 10 * planned + 100 for planned, read in scans), merges


def _fact_scans(node: dict):
    if node.get("Relation Name") == "session_annotations" and node["Node Type"] != "ModifyTable":
        yield node["Plan Rows"], node["Actual Rows"]
    for child in node.get("Plans", ()):
        yield from _fact_scans(child)
