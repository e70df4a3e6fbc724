"""The stats query as a staged pipeline: parse → validate → run → shape.

`StatsQuery.parse` turns raw parameters (HTTP query string or CLI flags) into typed
values with exact error messages; `run_stats` fetches the summed rollups and hands them
to `definitions` for shaping. API, CLI, dashboard and exports all go through here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from annotation_insights.errors import BadRequest, NotFound
from annotation_insights.events.schema import has_control_characters
from annotation_insights.metrics.definitions import (
    PairTotals, UniqueImages, shape_labeler, shape_row, shape_totals)
from annotation_insights.store.queries import stats as stats_sql, tenancy as tenancy_sql
from annotation_insights.store.database import Database, Reader
from annotation_insights.store.dialect import Dialect
from annotation_insights.tenancy.workspaces import Workspace

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_UNREVIEWED = PairTotals()


def availability_notice(availability: dt.date) -> str:
    return (f"Annotation insights are available for activity from {availability.isoformat()} "
            "onward; earlier dates return no data.")


def parse_date(name: str, value: str | None) -> dt.date:
    if value is None or value == "":
        raise BadRequest(f"Missing required parameter {name} (YYYY-MM-DD).")
    if not _DATE.fullmatch(value):
        raise BadRequest(f"{name} must be a date in YYYY-MM-DD format, got {value!r}.")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} {value!r} is not a real calendar date.") from None


@dataclass(frozen=True)
class StatsQuery:
    start: dt.date
    end: dt.date
    project: str | None = None
    user_id: str | None = None
    notices: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, *, start: str | None, end: str | None, project: str | None = None,
              user_id: str | None = None, availability: dt.date) -> "StatsQuery":
        start_date = parse_date("startDate", start)
        end_date = parse_date("endDate", end)
        if start_date > end_date:
            raise BadRequest(f"startDate {start_date} is after endDate {end_date}.")
        for name, value in (("project", project), ("userId", user_id)):
            if value and has_control_characters(value):  # no id has them; PostgreSQL cannot take a NUL
                raise BadRequest(f"{name} must not contain control characters.")
        notices = [availability_notice(availability)]
        if start_date < availability:
            notices.append(f"startDate {start_date} is before {availability}, when data "
                           f"starts; it was moved to {availability}.")
            start_date = availability
        return cls(start_date, end_date, project or None, user_id or None, tuple(notices))

    def image_counting(self, dialect: Dialect, *, by_labeler: bool = False) -> str:
        """How the distinct images are counted (queries/stats.py): by their facts'
        priors (on PostgreSQL, by the counts of such facts by day), which are over every
        labeler's facts, unless the images are one labeler's (`userId`, or the groups of
        a series `by_labeler`): then by grouping that labeler's facts by image."""
        if self.user_id is not None or by_labeler:
            return stats_sql.BY_IMAGE
        return stats_sql.BY_FACT_DAYS if dialect.counts_image_fact_days else stats_sql.BY_PRIORS

    def params(self, workspace: Workspace) -> dict:
        return {"workspace_id": workspace.id, "start_date": self.start, "end_date": self.end,
                "project": self.project, "labeler": self.user_id}


def run_stats(db: Database, workspace: Workspace, query: StatsQuery) -> dict:
    """The full `GET /{workspace}/stats` answer for a validated query."""
    with db.snapshot() as reader:
        return _answer(reader, workspace, query, db.dialect)


def _answer(db: Reader, workspace: Workspace, query: StatsQuery, dialect: Dialect) -> dict:
    projects = {row[0]: {"slug": row[0], "name": row[1], "type": row[2]}
                for row in db.read_reference(tenancy_sql.SELECT_PROJECTS, {"workspace_id": workspace.id})}
    if query.project is not None and query.project not in projects:
        raise NotFound(f"No project {query.project!r} in workspace {workspace.slug!r}.")
    totals = db.read(stats_sql.STATS_TOTALS[query.image_counting(dialect)], query.params(workspace))
    pairs, images = split_totals(totals)
    labeled, marked_null, model_assisted = images[0][2][:3]
    rows = [shape_row(pairs[key], project=projects[key[0]], labeler_id=key[1],
                      workspace_id=workspace.slug)
            for key in sorted(pairs)]
    return {
        "data": rows,
        "labelers": _labelers(db, workspace, {key[1] for key in pairs}),
        "meta": {"notices": list(query.notices)},
        "stats": shape_totals(rows, UniqueImages(labeled, marked_null, model_assisted)),
    }


def split_totals(rows: list[tuple]) -> tuple[dict[tuple, PairTotals], list[tuple]]:
    """Rows of `STATS_TOTALS` or `SERIES_TOTALS` (part, two key columns, values): each
    key's session and review sums, and the distinct-image rows as (key columns, values).
    The parts' rows come in any order."""
    totals: dict[tuple, PairTotals] = {}
    images = []
    for row in rows:
        part, key = row[0], row[1:3]
        if part == stats_sql.PART_SESSIONS:
            reviewed = totals.get(key, _UNREVIEWED)
            totals[key] = PairTotals(*row[3:], reviewed.approved, reviewed.rejected)
        elif part == stats_sql.PART_REVIEWS:
            sums = totals.get(key)
            if sums is None:  # not `setdefault`, which would make a total for every row
                sums = totals[key] = PairTotals()
            sums.approved, sums.rejected = row[3:5]
        else:
            images.append((*key, row[3:]))
    return totals, images


def _labelers(db: Reader, workspace: Workspace, ids: set[str]) -> list[dict]:
    if not ids:
        return []
    known = db.read_reference(tenancy_sql.SELECT_LABELERS, {"workspace_id": workspace.id})
    # Sorted here, not in SQL, so the order is by code point on every backend and collation.
    return sorted((shape_labeler(*row) for row in known if row[0] in ids),
                  key=lambda labeler: labeler["id"])
