"""Terminal rendering of a stats answer."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

_COLUMNS = (("projectId", "project"), ("labelerId", "labeler"), ("imagesLabeled", "images"),
            ("boxesAdded", "added"), ("boxesRemoved", "removed"), ("boxesUpdated", "updated"),
            ("boxesDrawn", "drawn"), ("netBoxesAdded", "net added"), ("markedNull", "null"),
            ("modelAssisted", "assisted"), ("approved", "approved"), ("rejected", "rejected"),
            ("approvalRate", "approval %"))


def _cell(value) -> str:
    return "–" if value is None else str(value)


def render_table(console: Console, answer: dict) -> None:
    table = Table(title="Per project and labeler", show_lines=False)
    for _, title in _COLUMNS:
        table.add_column(title, justify="left" if title in ("project", "labeler") else "right")
    for row in answer["data"]:
        table.add_row(*(_cell(row[key]) for key, _ in _COLUMNS))
    console.print(table)
    totals = Table(title="Workspace totals", show_header=False)
    totals.add_column("metric")
    totals.add_column("value", justify="right")
    for key, value in answer["stats"].items():
        totals.add_row(key, _cell(value))
    console.print(totals)
    for notice in answer["meta"]["notices"]:
        console.print(f"[dim]{notice}[/]")
