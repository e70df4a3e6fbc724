"""`annotation-insights backup DIR` and `restore DIR`: the whole store as Parquet files.

A backup is a consistent snapshot of the store (see store/backup.py). On DuckDB it needs
the file to itself, so stop `serve` first; on PostgreSQL it can run beside the servers.
Restore needs an empty store, of either backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, TextColumn, TimeElapsedColumn

from annotation_insights.cli import main as cli


def _progress(verb: str):
    columns = (TextColumn(verb + " {task.description}"), TextColumn("{task.completed:,} rows"),
               TimeElapsedColumn())
    return Progress(*columns, console=cli.err, transient=True)


def _reporter(bar: Progress):
    tasks: dict[str, int] = {}

    def report(table: str, rows: int) -> None:
        if table not in tasks:
            tasks[table] = bar.add_task(table, total=None)
        bar.update(tasks[table], completed=rows)
    return report


@cli.reports_errors
def backup_command(directory: Annotated[Path, typer.Argument(
        help="A new (or empty) directory for the Parquet files and manifest.json.")]) -> None:
    """Back up the whole store (workspaces, key hashes, projects, labelers, events)."""
    from annotation_insights.store.backup import backup

    with cli.database() as db, _progress("Backing up") as bar:
        summary = backup(db, directory, progress=_reporter(bar))
    cli.out.print(f"Backed up {len(summary.workspaces)} workspace(s) and {summary.events:,} events "
                  f"to {directory}.")


@cli.reports_errors
def restore_command(directory: Annotated[Path, typer.Argument(
        help="A directory written by `annotation-insights backup`.")]) -> None:
    """Restore a backup into an empty store (either backend); rebuilds every rollup."""
    from annotation_insights.store.backup import restore

    with cli.database() as db, _progress("Restoring") as bar:
        summary = restore(db, directory, progress=_reporter(bar))
    cli.out.print(f"Restored {len(summary.workspaces)} workspace(s) and {summary.events:,} events "
                  f"from {directory}.")
