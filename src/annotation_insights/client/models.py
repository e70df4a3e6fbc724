"""Typed answers of the Python client, each with `.to_pandas()`.

Field names are the API's, in snake_case (`boxesAdded` → `boxes_added`). pandas is
imported only by `.to_pandas()`, so the client works without it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError("to_pandas() needs pandas: pip install pandas") from None
    return pandas


@dataclass(frozen=True)
class Labeler:
    id: str
    display_name: str
    email: str | None


@dataclass(frozen=True)
class StatsRow:
    """One (project, labeler) row of `data[]` (SPEC §5)."""

    project_id: str
    project_name: str
    project_type: str
    labeler_id: str
    workspace_id: str
    images_labeled: int
    boxes_drawn: int
    marked_null: int
    model_assisted: int
    approved: int
    rejected: int
    approval_rate: float | None
    net_boxes_added: int
    net_boxes_updated: int
    boxes_added: int
    boxes_removed: int
    boxes_updated: int


@dataclass(frozen=True)
class StatsTotals:
    """The workspace totals, `stats` (SPEC §5)."""

    num_images_labeled: int
    num_boxes_drawn: int
    num_images_marked_null: int
    total_images_using_model_assist: int
    num_boxes_added: int
    num_boxes_removed: int
    num_boxes_updated: int
    net_boxes_added: int
    net_boxes_updated: int
    approval_rate: float | None


def _build(cls, data: dict[str, Any]):
    values = {snake(k): v for k, v in data.items()}
    return cls(**{f.name: values.get(f.name) for f in fields(cls)})


@dataclass(frozen=True)
class Stats:
    """The `GET /{workspace}/stats` answer."""

    rows: list[StatsRow]
    labelers: list[Labeler]
    totals: StatsTotals
    notices: list[str]
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict) -> "Stats":
        return cls(rows=[_build(StatsRow, r) for r in body.get("data", [])],
                   labelers=[_build(Labeler, lab) for lab in body.get("labelers", [])],
                   totals=_build(StatsTotals, body.get("stats", {})),
                   notices=list(body.get("meta", {}).get("notices", [])), raw=body)

    def to_pandas(self):
        """One row per (project, labeler), with the labeler's name and email."""
        pd = _pandas()
        names = {lab.id: lab for lab in self.labelers}
        records = []
        for row in self.rows:
            record = asdict(row)
            labeler = names.get(row.labeler_id)
            record["labeler_name"] = labeler.display_name if labeler else None
            record["labeler_email"] = labeler.email if labeler else None
            records.append(record)
        columns = [f.name for f in fields(StatsRow)] + ["labeler_name", "labeler_email"]
        return pd.DataFrame.from_records(records, columns=columns)


_PERIOD_KEYS = ("period", "startDate", "endDate", "groups", "id", "name")


def _metrics(entry: dict) -> dict[str, Any]:
    return {snake(k): v for k, v in entry.items() if k not in _PERIOD_KEYS}


@dataclass(frozen=True)
class Period:
    """One period of a series: its metrics, and per group when grouped."""

    period: str
    start_date: str
    end_date: str
    metrics: dict[str, Any]
    groups: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Timeseries:
    """The `GET /{workspace}/stats/timeseries` answer."""

    granularity: str
    group_by: str | None
    periods: list[Period]
    total: dict[str, Any]
    group_names: dict[str, str]
    notices: list[str]
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict) -> "Timeseries":
        periods = [Period(p["period"], p.get("startDate", p["period"]), p.get("endDate", p["period"]),
                          _metrics(p), {str(g["id"]): _metrics(g) for g in p.get("groups", [])})
                   for p in body.get("periods", [])]
        names = {str(g["id"]): g.get("name", str(g["id"])) for g in body.get("groups", [])}
        return cls(granularity=body.get("granularity", "day"), group_by=body.get("groupBy"),
                   periods=periods, total=_metrics(body.get("total", {})), group_names=names,
                   notices=list(body.get("meta", {}).get("notices", [])), raw=body)

    def to_pandas(self):
        """Long form: one row per period, or per (period, group) when grouped."""
        pd = _pandas()
        records = []
        for p in self.periods:
            base = {"period": p.period, "start_date": p.start_date, "end_date": p.end_date}
            if self.group_by:
                for group, metrics in p.groups.items():
                    records.append({**base, "group": group,
                                    "group_name": self.group_names.get(group, group), **metrics})
            else:
                records.append({**base, **p.metrics})
        frame = pd.DataFrame.from_records(records)
        for column in ("period", "start_date", "end_date"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column])
        return frame
