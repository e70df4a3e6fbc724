"""The SPEC §5 metrics per day, ISO week or month: what the dashboard charts.

A session counts on its date and a review on its own (SPEC §4), so every one lands in
exactly one period and summing a series gives the range's totals for the additive
metrics. Two kinds of field are not additive: the unique-image counts (each period
counts its own distinct images; an image labeled in two periods is in both) and
`approvalRate` (a ratio). Every period is shaped by `definitions`, so a period's numbers
are exactly what `/stats` answers for that period alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from annotation_insights.errors import BadRequest, NotFound
from annotation_insights.metrics.definitions import (
    PairTotals, UniqueImages, pair_metrics, shape_labeler, unique_metrics)
from annotation_insights.metrics.query import StatsQuery, split_totals
from annotation_insights.store.queries import stats as stats_sql, tenancy as tenancy_sql
from annotation_insights.store.database import Database, Reader
from annotation_insights.store.dialect import Dialect
from annotation_insights.tenancy.workspaces import Workspace

GRANULARITIES = ("day", "week", "month")
GROUP_BYS = ("labeler", "project")
MAX_PERIODS = 3700  # ten years of days: a chart, not a dump
NON_ADDITIVE = ("numImagesLabeled", "numImagesMarkedNull", "totalImagesUsingModelAssist",
                "approvalRate")
_NOTHING, _NO_IMAGES = PairTotals(), UniqueImages()


def period_start(day: dt.date, granularity: str) -> dt.date:
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def _next_period(start: dt.date, granularity: str) -> dt.date:
    if granularity == "week":
        return start + dt.timedelta(days=7)
    if granularity == "month":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=1)


def period_count(start: dt.date, end: dt.date, granularity: str) -> int:
    first, last = period_start(start, granularity), period_start(end, granularity)
    if granularity == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return (last - first).days // (7 if granularity == "week" else 1) + 1


def periods(start: dt.date, end: dt.date, granularity: str) -> list[tuple[dt.date, dt.date, dt.date]]:
    """(period start, first day in range, last day in range) for every period the range touches."""
    out, current = [], period_start(start, granularity)
    while current <= end and start <= end:
        following = _next_period(current, granularity)
        out.append((current, max(current, start), min(following - dt.timedelta(days=1), end)))
        current = following
    return out


@dataclass(frozen=True)
class TimeseriesQuery:
    stats: StatsQuery
    granularity: str = "day"
    group_by: str | None = None

    @classmethod
    def parse(cls, *, granularity: str | None, group_by: str | None, start: str | None,
              end: str | None, project: str | None = None, user_id: str | None = None,
              availability: dt.date) -> "TimeseriesQuery":
        stats = StatsQuery.parse(start=start, end=end, project=project, user_id=user_id,
                                 availability=availability)
        granularity = granularity or "day"
        if granularity not in GRANULARITIES:
            raise BadRequest(f"granularity must be one of {', '.join(GRANULARITIES)}, "
                             f"got {granularity!r}.")
        if group_by and group_by not in GROUP_BYS:
            raise BadRequest(f"groupBy must be one of {', '.join(GROUP_BYS)}, got {group_by!r}.")
        count = period_count(stats.start, stats.end, granularity) if stats.start <= stats.end else 0
        if count > MAX_PERIODS:
            raise BadRequest(f"That range has {count} {granularity}s; at most {MAX_PERIODS} periods "
                             "fit one series. Use a coarser granularity or a shorter range.")
        return cls(stats, granularity, group_by or None)


def shape_metrics(totals: PairTotals, unique: UniqueImages) -> dict:
    """Every `data[]` metric of the summed totals, plus the unique-image counts of `stats`."""
    return {**pair_metrics(totals), **unique_metrics(unique)}


def run_timeseries(db: Database, workspace: Workspace, query: TimeseriesQuery) -> dict:
    """The `GET /{workspace}/stats/timeseries` answer: zero-filled periods, groups, range total."""
    with db.snapshot() as reader:
        return _series(reader, workspace, query, db.dialect)


def _series(db: Reader, workspace: Workspace, query: TimeseriesQuery, dialect: Dialect) -> dict:
    projects = {row[0]: {"id": row[0], "name": row[1]}
                for row in db.read_reference(tenancy_sql.SELECT_PROJECTS, {"workspace_id": workspace.id})}
    if query.stats.project is not None and query.stats.project not in projects:
        raise NotFound(f"No project {query.stats.project!r} in workspace {workspace.slug!r}.")
    params = query.stats.params(workspace) | {"unit": query.granularity,
                                               "group_by": query.group_by}
    counting = query.stats.image_counting(dialect, by_labeler=query.group_by == "labeler")
    # Both keyed by (period or None for the whole range, group or None for all groups).
    sums, images = split_totals(db.read(stats_sql.SERIES_TOTALS[
        query.group_by is not None, counting, query.stats.image_counting(dialect)], params))
    if not query.group_by:  # its one group, '', is all groups
        sums = {(period, None): totals for (period, _), totals in sums.items()}
    unique: dict[tuple[dt.date | None, str | None], UniqueImages] = {}
    for period, group, values in images:
        rolled_period, rolled_group, *counts = values[:5]
        key = (None if rolled_period else period,
               group if query.group_by and not rolled_group else None)
        unique[key] = UniqueImages(*counts)
    group_ids = sorted({group for _, group in sums if group is not None})

    def entry(period: dt.date | None) -> dict:
        out = shape_metrics(sums.get((period, None), _NOTHING), unique.get((period, None), _NO_IMAGES))
        if query.group_by:
            out["groups"] = [{"id": group, **shape_metrics(sums[(period, group)],
                                                           unique.get((period, group), _NO_IMAGES))}
                             for group in group_ids if (period, group) in sums]
        return out

    series = [{"period": start.isoformat(), "startDate": first.isoformat(),
               "endDate": last.isoformat(), **entry(start)}
              for start, first, last in periods(query.stats.start, query.stats.end, query.granularity)]
    return {
        "workspace": workspace.slug,
        "startDate": query.stats.start.isoformat(),
        "endDate": query.stats.end.isoformat(),
        "granularity": query.granularity,
        "groupBy": query.group_by,
        "groups": _group_names(db, workspace, query.group_by, group_ids, projects),
        "periods": series,
        "total": entry(None),
        "meta": {"notices": list(query.stats.notices), "nonAdditive": list(NON_ADDITIVE)},
    }


def _group_names(db: Reader, workspace: Workspace, group_by: str | None, ids: list[str],
                 projects: dict[str, dict]) -> list[dict]:
    if group_by == "project":
        return [projects[slug] for slug in ids]
    if group_by == "labeler" and ids:
        known = {row[0]: shape_labeler(*row)
                 for row in db.read_reference(tenancy_sql.SELECT_LABELERS, {"workspace_id": workspace.id})}
        return [{"id": labeler, "name": known[labeler]["displayName"]} for labeler in ids]
    return []
