"""PostgreSQL reads rows, so its answers read rollups that hold what the answer needs: a
range's distinct images from the counts of image facts by day, which its triggers keep
through every kind of change a batch makes, and one labeler's answer from that labeler's
rows alone."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from annotation_insights.demo.generator import generate_events, spec_for_event_count
from annotation_insights.events.ingest import ingest, validate_batch
from annotation_insights.metrics.query import StatsQuery
from annotation_insights.store.postgres_backend import PostgresTransaction
from annotation_insights.store.queries import ingest as ingest_sql, stats as stats_sql
from annotation_insights.tenancy.workspaces import create_workspace

pytestmark = pytest.mark.backends("postgresql")

# Each flag's facts by day, project and prior date, counted from the facts themselves.
FACTS_BY_DAY = """
SELECT session_date, project, flag, coalesce(prior - DATE '1970-01-01', -2147483648), count(*)
FROM (SELECT session_date, project, 1 AS flag, prior_labeled AS prior FROM session_images WHERE labeled
      UNION ALL
      SELECT session_date, project, 2, prior_marked_null FROM session_images WHERE marked_null
      UNION ALL
      SELECT session_date, project, 4, prior_model_assisted FROM session_images WHERE model_assisted) f
GROUP BY 1, 2, 3, 4"""


def _events(n: int, seed: int) -> list[dict]:
    spec = spec_for_event_count(n, projects=3, labelers=8, days=12, end=dt.date(2026, 6, 30))
    events = list(generate_events(spec))
    random.Random(seed).shuffle(events)  # late facts give stored ones priors, move sessions
    return events


def test_image_fact_days_count_the_facts_through_every_change(db, monkeypatch):
    ran = []
    execute = PostgresTransaction.execute

    def counting(tx, sql, params=None):
        ran.append(sql)
        return execute(tx, sql, params)

    monkeypatch.setattr(PostgresTransaction, "execute", counting)
    events = _events(12_000, seed=3)
    # An explicit session over two days, whose first day's box comes last: the session
    # and its facts move to that day, after its image was labeled by another in between.
    image = {"project": events[0]["project"], "image": events[0]["image"], "type": "annotation.created"}
    events.insert(0, {**image, "id": "late-1", "time": "2026-06-26T10:00:00Z", "labeler": "u-late",
                      "annotation": "late-1", "session": "two-days"})
    events.append({**image, "id": "late-2", "time": "2026-06-21T10:00:00Z", "labeler": "u-late",
                   "annotation": "late-2", "session": "two-days"})
    workspace = create_workspace(db, "days")
    for start in range(0, len(events), 900):
        ingest(db, workspace, validate_batch(events[start:start + 900]))
        if start == 4 * 900:  # a resent stretch changes nothing
            ingest(db, workspace, validate_batch(events[:1_500]))

    # Every kind of change to the facts happened: new facts, facts merged into stored
    # sessions, priors set anew, sessions moved to an earlier date.
    assert ingest_sql.MOVE_SESSION_IMAGES in ran
    assert any(sql in ran for sql in ingest_sql.MERGE_SESSION_IMAGES[False])
    assert db.read("SELECT count(*) FROM session_images WHERE prior_labeled IS NOT NULL")[0][0] > 100
    counted = set(db.read("SELECT session_date, project, flag, prior_day, facts "
                          "FROM image_fact_days WHERE facts <> 0"))
    assert counted == set(db.read(FACTS_BY_DAY))


def _scans(node: dict):
    if node.get("Relation Name") and node["Node Type"] != "ModifyTable":
        yield node
    for child in node.get("Plans", ()):
        yield from _scans(child)


def _plan(db, sql: str, params: dict) -> list[dict]:
    with db.transaction() as tx:
        for table in ("sessions", "review_days", "session_images"):
            tx.execute(f"ANALYZE {table}")
        tx.execute("SET LOCAL enable_seqscan = off")  # a small table would be read whole anyway
        plan = tx.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)[0][0][0]["Plan"]
    return list(_scans(plan))


def test_an_answer_reads_its_own_rows(db):
    workspace = create_workspace(db, "rows")
    events = _events(8_000, seed=4)
    for start in range(0, len(events), 2_000):
        ingest(db, workspace, validate_batch(events[start:start + 2_000]))
    labeler = next(e["labeler"] for e in events if e["labeler"] != "autolabelservice")
    availability = dt.date(2023, 8, 1)
    one_labeler = StatsQuery.parse(start="2026-06-20", end="2026-06-30", user_id=labeler, availability=availability)
    scans = _plan(db, stats_sql.STATS_TOTALS[one_labeler.image_counting(db.dialect)], one_labeler.params(workspace))
    assert {scan["Relation Name"] for scan in scans} == {"sessions", "review_days", "session_images"}
    for scan in scans:  # found by index, none read and then filtered out
        assert scan.get("Rows Removed by Filter", 0) == 0, {k: scan.get(k) for k in ("Relation Name", "Index Name", "Index Cond", "Filter")}

    whole = StatsQuery.parse(start="2026-06-20", end="2026-06-30", availability=availability)
    scans = _plan(db, stats_sql.STATS_TOTALS[whole.image_counting(db.dialect)], whole.params(workspace))
    assert {scan["Relation Name"] for scan in scans} == {"sessions", "review_days", "image_fact_days"}


def test_an_answer_is_planned_for_its_own_values_and_leaves_the_connection_as_it_was(db):
    """psycopg prepares a statement run five times; PostgreSQL's generic plan for an
    answer knows no range or filter (a year's answer at 10M events 164 ms instead of 35)."""
    settings = "SELECT current_setting('plan_cache_mode'), current_setting('max_parallel_workers_per_gather')"
    with db.snapshot() as reader:
        assert reader.read(settings) == [("force_custom_plan", "0")]
    with db.transaction() as tx:  # the pool's connections write with the server's own settings
        assert tx.execute(settings) == [("auto", "2")]
