"""Terminal rendering of a stats answer."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

_COLUMNS = (("projectId", "project"), ("labelerId", "labeler"), ("imagesLabeled", "images"),
            ("boxesAdded", "added"), ("boxesRemoved", "removed"), ("boxesUpdated", "updated"),
            ("boxesDrawn", "drawn"), ("netBoxesAdded", "net added"), ("markedNull", "null"),
            ("modelAssisted", "assisted"), ("approved", "approved"), ("rejected", "rejected"),
            ("approvalRate", "approval %"))


def _cell(value) -> str:
    return "–" if value is None else str(value)


def _fit(console: Console, table: Table) -> None:
    """Into a pipe or file rich assumes 80 columns and would cut names and numbers to "…";
    there the table gets its natural width (a terminal still fits it to the window)."""
    if not console.is_terminal:
        table.width = Measurement.get(console, console.options.update_width(100_000), table).maximum


def render_table(console: Console, answer: dict) -> None:
    table = Table(title="Per project and labeler", show_lines=False)
    for _, title in _COLUMNS:
        table.add_column(title, justify="left" if title in ("project", "labeler") else "right")
    for row in answer["data"]:
        table.add_row(*(_cell(row[key]) for key, _ in _COLUMNS))
    _fit(console, table)
    console.print(table)
    totals = Table(title="Workspace totals", show_header=False)
    totals.add_column("metric")
    totals.add_column("value", justify="right")
    for key, value in answer["stats"].items():
        totals.add_row(key, _cell(value))
    _fit(console, totals)
    console.print(totals)
    for notice in answer["meta"]["notices"]:
        console.print(Text(notice, style="dim"))
