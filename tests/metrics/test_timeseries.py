"""The time series against the stats engine: every period is `/stats` for that period alone.

Runs on DuckDB and PostgreSQL over a demo stream in a non-UTC workspace, so local dates,
ISO weeks and month boundaries are all exercised.
"""

from __future__ import annotations

import datetime as dt
from itertools import islice

import pytest

from annotation_insights.demo.generator import DemoSpec, generate_events
from annotation_insights.errors import BadRequest, NotFound
from annotation_insights.events.ingest import ingest, validate_batch
from annotation_insights.metrics import query as query_module, timeseries as timeseries_module
from annotation_insights.metrics.query import StatsQuery, run_stats
from annotation_insights.metrics.timeseries import (
    MAX_PERIODS, NON_ADDITIVE, TimeseriesQuery, period_count, periods, run_timeseries)
from annotation_insights.tenancy.workspaces import create_workspace

AVAILABLE = dt.date(2023, 8, 1)
SPEC = DemoSpec(seed=5, days=45, labelers=4, projects=3, end=dt.date(2026, 3, 10),
                images_per_labeler_day=5, boxes_per_image=3, timezone="America/New_York")
# /stats `stats` field -> the same number in a time-series period
STATS_FIELDS = {
    "numImagesLabeled": "numImagesLabeled", "numImagesMarkedNull": "numImagesMarkedNull",
    "totalImagesUsingModelAssist": "totalImagesUsingModelAssist", "numBoxesAdded": "boxesAdded",
    "numBoxesRemoved": "boxesRemoved", "numBoxesUpdated": "boxesUpdated", "numBoxesDrawn": "boxesDrawn",
    "netBoxesAdded": "netBoxesAdded", "netBoxesUpdated": "netBoxesUpdated", "approvalRate": "approvalRate",
}
ROW_METRICS = ("imagesLabeled", "boxesDrawn", "markedNull", "modelAssisted", "approved", "rejected",
               "approvalRate", "netBoxesAdded", "netBoxesUpdated", "boxesAdded", "boxesRemoved",
               "boxesUpdated")


@pytest.fixture
def workspace(db):
    ws = create_workspace(db, "series", timezone=SPEC.timezone)
    events = generate_events(SPEC)
    while batch := list(islice(events, 5_000)):
        ingest(db, ws, validate_batch(batch, max_events=5_000))
    return ws


def stats(db, ws, start, end, project=None, user=None) -> dict:
    return run_stats(db, ws, StatsQuery.parse(start=str(start), end=str(end), project=project,
                                              user_id=user, availability=AVAILABLE))


def series(db, ws, start, end, granularity, group_by=None, project=None, user=None) -> dict:
    query = TimeseriesQuery.parse(granularity=granularity, group_by=group_by, start=str(start),
                                  end=str(end), project=project, user_id=user, availability=AVAILABLE)
    return run_timeseries(db, ws, query)


def sum_rows(rows: list[dict], field: str):
    return sum(row[field] for row in rows)


def test_periods_are_zero_filled_iso_weeks_and_calendar_months():
    weeks = periods(dt.date(2026, 2, 4), dt.date(2026, 3, 3), "week")
    assert [(p.isoformat(), a.isoformat(), b.isoformat()) for p, a, b in weeks] == [
        ("2026-02-02", "2026-02-04", "2026-02-08"), ("2026-02-09", "2026-02-09", "2026-02-15"),
        ("2026-02-16", "2026-02-16", "2026-02-22"), ("2026-02-23", "2026-02-23", "2026-03-01"),
        ("2026-03-02", "2026-03-02", "2026-03-03")]
    months = periods(dt.date(2023, 12, 31), dt.date(2024, 3, 1), "month")
    assert [(p.isoformat(), a.isoformat(), b.isoformat()) for p, a, b in months] == [
        ("2023-12-01", "2023-12-31", "2023-12-31"), ("2024-01-01", "2024-01-01", "2024-01-31"),
        ("2024-02-01", "2024-02-01", "2024-02-29"), ("2024-03-01", "2024-03-01", "2024-03-01")]
    assert len(periods(dt.date(2024, 1, 1), dt.date(2024, 12, 31), "day")) == 366
    for granularity in ("day", "week", "month"):
        start, end = dt.date(2023, 8, 3), dt.date(2026, 5, 17)
        assert period_count(start, end, granularity) == len(periods(start, end, granularity))


def test_parse_rejects_unknown_options_and_oversized_series():
    def parse(**kw):
        args = {"granularity": "day", "group_by": None, "start": "2024-01-01", "end": "2024-01-31"}
        return TimeseriesQuery.parse(availability=AVAILABLE, **(args | kw))

    assert parse(granularity=None).granularity == "day"
    with pytest.raises(BadRequest, match="granularity must be one of day, week, month"):
        parse(granularity="hour")
    with pytest.raises(BadRequest, match="groupBy must be one of labeler, project"):
        parse(group_by="reviewer")
    with pytest.raises(BadRequest, match=f"at most {MAX_PERIODS} periods"):
        parse(end="2035-01-01")
    assert parse(end="2035-01-01", granularity="month").granularity == "month"
    with pytest.raises(BadRequest, match="after endDate"):
        parse(start="2024-02-01")


def test_a_daily_series_adds_up_to_the_range_and_each_day_is_its_own_stats(db, workspace):
    start, end = dt.date(2026, 1, 26), dt.date(2026, 3, 10)
    answer = series(db, workspace, start, end, "day")
    assert len(answer["periods"]) == (end - start).days + 1
    whole = stats(db, workspace, start, end)
    additive = {k: v for k, v in STATS_FIELDS.items() if v not in NON_ADDITIVE}
    for stats_field, field in additive.items():
        assert sum(p[field] for p in answer["periods"]) == whole["stats"][stats_field], field
    for field in ROW_METRICS:
        if field != "approvalRate":
            assert sum(p[field] for p in answer["periods"]) == sum_rows(whole["data"], field), field
    for stats_field, field in STATS_FIELDS.items():
        assert answer["total"][field] == whole["stats"][stats_field], field
    # The unique-image counts really are not additive in this data (an image is redone later).
    assert sum(p["numImagesLabeled"] for p in answer["periods"]) > whole["stats"]["numImagesLabeled"]
    for period in answer["periods"][::3]:
        day = stats(db, workspace, period["startDate"], period["endDate"])
        assert {f: period[f] for f in STATS_FIELDS.values()} == \
               {f: day["stats"][s] for s, f in STATS_FIELDS.items()}, period["period"]


@pytest.mark.parametrize("granularity", ["week", "month"])
def test_each_week_or_month_is_stats_for_its_clipped_range(db, workspace, granularity):
    start, end = dt.date(2026, 1, 28), dt.date(2026, 3, 4)   # both mid-week and mid-month
    answer = series(db, workspace, start, end, granularity, group_by="project")
    assert answer["periods"][0]["startDate"] == start.isoformat()
    assert answer["periods"][-1]["endDate"] == end.isoformat()
    for period in answer["periods"]:
        whole = stats(db, workspace, period["startDate"], period["endDate"])
        assert {f: period[f] for f in STATS_FIELDS.values()} == \
               {f: whole["stats"][s] for s, f in STATS_FIELDS.items()}
        for group in period["groups"]:
            one = stats(db, workspace, period["startDate"], period["endDate"], project=group["id"])
            assert group["numImagesLabeled"] == one["stats"]["numImagesLabeled"]
            assert group["imagesLabeled"] == sum_rows(one["data"], "imagesLabeled")
            assert group["approvalRate"] == one["stats"]["approvalRate"]


def test_labeler_groups_match_stats_for_that_labeler(db, workspace):
    start, end = dt.date(2026, 2, 1), dt.date(2026, 2, 28)
    answer = series(db, workspace, start, end, "week", group_by="labeler")
    ids = [g["id"] for g in answer["groups"]]
    assert ids == sorted(ids) and len(ids) >= 4
    for group in answer["total"]["groups"]:
        one = stats(db, workspace, start, end, user=group["id"])
        for stats_field, field in STATS_FIELDS.items():
            assert group[field] == one["stats"][stats_field], (group["id"], field)
        for field in ROW_METRICS:
            if field != "approvalRate":
                assert group[field] == sum_rows(one["data"], field), (group["id"], field)
    # Filters narrow the series exactly as they narrow /stats.
    user = ids[0]
    narrowed = series(db, workspace, start, end, "week", group_by="labeler", user=user)
    assert [g["id"] for g in narrowed["groups"]] == [user]
    assert narrowed["total"]["imagesLabeled"] == answer["total"]["groups"][0]["imagesLabeled"]


def test_each_day_of_each_labeler_is_stats_for_that_day_and_labeler(db, workspace):
    """Every cell of a daily series by labeler, and each day's and the range's totals over
    all labelers, as `/stats` answers for that day and labeler alone."""
    start, end = dt.date(2026, 2, 20), dt.date(2026, 2, 26)
    answer = series(db, workspace, start, end, "day", group_by="labeler")
    cells = 0
    for period in [*answer["periods"], {**answer["total"], "startDate": start, "endDate": end}]:
        whole = stats(db, workspace, period["startDate"], period["endDate"])
        assert {f: period[f] for f in STATS_FIELDS.values()} == \
               {f: whole["stats"][s] for s, f in STATS_FIELDS.items()}
        assert [g["id"] for g in period["groups"]] == sorted({row["labelerId"] for row in whole["data"]})
        for group in period["groups"]:
            one = stats(db, workspace, period["startDate"], period["endDate"], user=group["id"])
            assert {f: group[f] for f in STATS_FIELDS.values()} == \
                   {f: one["stats"][s] for s, f in STATS_FIELDS.items()}, (period["startDate"], group["id"])
            for field in ROW_METRICS:
                expected = sum_rows(one["data"], field) if field != "approvalRate" else one["stats"][field]
                assert group[field] == expected, (period["startDate"], group["id"], field)
            cells += 1
    assert cells >= 3 * 7  # most labelers work most days


def test_answers_do_not_depend_on_the_order_the_store_returns_their_parts_in(db, workspace, monkeypatch):
    """The statements have no ORDER BY: a pair's review sums may come before its session
    sums."""
    start, end = dt.date(2026, 2, 1), dt.date(2026, 2, 14)
    expected = [stats(db, workspace, start, end), series(db, workspace, start, end, "day", "labeler")]
    assert expected[0]["stats"]["approvalRate"] is not None
    in_order = query_module.split_totals
    for module in (query_module, timeseries_module):
        monkeypatch.setattr(module, "split_totals", lambda rows: in_order(rows[::-1]))
    assert [stats(db, workspace, start, end), series(db, workspace, start, end, "day", "labeler")] == expected


def test_empty_ranges_unknown_projects_and_users(db, workspace):
    empty = series(db, workspace, "2024-01-01", "2024-01-03", "day", group_by="labeler")
    assert [p["period"] for p in empty["periods"]] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert all(p["imagesLabeled"] == 0 and p["approvalRate"] is None and p["groups"] == []
               for p in empty["periods"])
    assert empty["groups"] == [] and empty["total"]["numImagesLabeled"] == 0
    nobody = series(db, workspace, "2026-02-01", "2026-02-07", "day", user="nobody")
    assert sum(p["boxesAdded"] for p in nobody["periods"]) == 0
    with pytest.raises(NotFound, match="No project 'nope'"):
        series(db, workspace, "2026-02-01", "2026-02-07", "day", project="nope")
