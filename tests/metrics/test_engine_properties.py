"""The rollup engine against the slow reference model, on hostile event streams.

Each example is a fresh workspace in one store; events arrive in the stream's order
split into random batches, so rollups are built incrementally from out-of-order, late
and duplicate deliveries exactly as an API client would send them. On a store that
backlogs its rollups (DuckDB), a random choice of batches is followed by a catch-up, as
a read between them would cause, so later batches merge into sessions stored before them
there too, and not only all at once.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation_insights.events.ingest import ingest, validate_batch
from annotation_insights.metrics.query import StatsQuery, run_stats
from annotation_insights.tenancy.workspaces import create_workspace
from support.event_strategies import stats_queries
from support.reference_model import reference_stats

_slugs = (f"w{n}" for n in itertools.count())
COMPARED_ROW_KEYS = (
    "projectId", "labelerId", "imagesLabeled", "boxesDrawn", "markedNull", "modelAssisted",
    "approved", "rejected", "approvalRate", "netBoxesAdded", "netBoxesUpdated", "boxesAdded",
    "boxesRemoved", "boxesUpdated")


def _batches(events: list[dict], cuts: list[int]) -> list[list[dict]]:
    points = sorted({c % (len(events) + 1) for c in cuts} | {0, len(events)})
    return [events[a:b] for a, b in zip(points, points[1:]) if b > a]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=stats_queries(), cuts=st.lists(st.integers(0, 60), max_size=4),
       catch_ups=st.lists(st.booleans(), min_size=5, max_size=5))
def test_engine_matches_reference(db, query, cuts, catch_ups):
    workspace = create_workspace(db, next(_slugs), timezone=query["timezone"])
    for batch, catch_up in zip(_batches(query["events"], cuts), catch_ups):
        ingest(db, workspace, validate_batch(batch))
        if catch_up and db.rollup_backlog is not None:
            db.rollup_backlog.catch_up()
    answer = run_stats(db, workspace, StatsQuery.parse(
        start=query["start"].isoformat(), end=query["end"].isoformat(),
        project=query["project"], user_id=query["user_id"],
        availability=query["start"]))
    expected = reference_stats(query["events"], timezone=query["timezone"], start=query["start"],
                               end=query["end"], project=query["project"], user_id=query["user_id"])
    assert [{k: row[k] for k in COMPARED_ROW_KEYS} for row in answer["data"]] == expected["data"]
    assert answer["stats"] == expected["stats"]
    assert [labeler["id"] for labeler in answer["labelers"]] == sorted(
        {row["labelerId"] for row in expected["data"]})
