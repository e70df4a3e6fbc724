"""`annotation-insights import [cvat] FILE --workspace SLUG`: event files and tool exports.

`import FILE` reads NDJSON, CSV or Parquet in the SPEC §3 schema; `import cvat FILE`
reads CVAT's analytics event export. Both stream the file, ingest in batches with a
progress bar (rate and ETA), resume after the last committed batch when re-run, and end
with a summary; rows that cannot be imported go to a rejects file with their reasons.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from annotation_insights.cli import main as cli
from annotation_insights.connectors.files import EventFile, detect_format
from annotation_insights.connectors.importer import (
    DEFAULT_BATCH, Convert, ImportSummary, Rejects, import_blocks, passthrough, source_fingerprint)
from annotation_insights.errors import BadRequest
from annotation_insights.store.queries import connectors as connectors_sql
from annotation_insights.store.database import Database
from annotation_insights.tenancy.workspaces import Workspace

TOOLS = ("cvat",)


@cli.reports_errors
def import_command(
        source: Annotated[list[str], typer.Argument(
            metavar="[cvat] FILE", help="An event file (.ndjson, .csv, .parquet), or `cvat` "
                                        "and a CVAT analytics event export (.csv).")],
        workspace: Annotated[str, typer.Option("--workspace", help="Workspace slug.")],
        format: Annotated[Optional[str], typer.Option(
            "--format", help="ndjson, csv or parquet (default: from the extension).")] = None,
        rejects: Annotated[Optional[Path], typer.Option(
            "--rejects", help="Where rejected rows go (default: FILE.rejected.ndjson).")] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10_000)] = DEFAULT_BATCH,
        restart: Annotated[bool, typer.Option(
            "--restart", help="Ignore an interrupted import's checkpoint; start at row 1.")] = False,
) -> None:
    """Import events from a file or a tool's export (resumable; re-running is safe)."""
    tool, path = _parse_source(source)
    if not path.is_file():
        raise BadRequest(f"No such file: {path}")
    if tool == "cvat":
        from annotation_insights.connectors.cvat import CvatConverter

        converter = CvatConverter()
        events_file = EventFile(path, "csv", csv_record=dict)
        convert: Convert = converter
    else:
        try:
            fmt = detect_format(path, format)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        events_file, convert, converter = EventFile(path, fmt), passthrough, None
    rejects_path = rejects or path.with_name(path.name + ".rejected.ndjson")
    with cli.database(bulk_load=True) as db:
        from annotation_insights.tenancy.workspaces import get_workspace

        ws = get_workspace(db, workspace)
        summary = _run_with_progress(db, ws, events_file, convert, tool or events_file.format,
                                     rejects_path, batch_size, restart)
        if converter is not None:
            _name_cvat_reference(db, ws, converter)
    _print_summary(path, summary)


def _parse_source(source: list[str]) -> tuple[str | None, Path]:
    if len(source) == 1:
        return None, Path(source[0])
    if len(source) == 2 and source[0] in TOOLS:
        return source[0], Path(source[1])
    raise BadRequest("Give one FILE, or a tool name and its export: "
                     f"`import FILE` or `import {'|'.join(TOOLS)} FILE`.")


def _run_with_progress(db: Database, ws: Workspace, events_file: EventFile, convert: Convert,
                       kind: str, rejects_path: Path, batch_size: int,
                       restart: bool) -> ImportSummary:
    source = source_fingerprint(kind, events_file.path)
    resuming = not restart and bool(db.read(connectors_sql.SELECT_IMPORT_CHECKPOINT,
                                            {"workspace_id": ws.id, "source": source}))
    columns = (TextColumn(f"Importing {events_file.path.name}"), BarColumn(),
               TaskProgressColumn(), TextColumn("{task.fields[events]:,} events"),
               TextColumn("{task.fields[rate]:,.0f}/s"), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=cli.err, transient=False) as bar:
        task = bar.add_task("import", total=events_file.total or 1, events=0, rate=0.0)

        def progress(summary: ImportSummary) -> None:
            bar.update(task, completed=events_file.position, events=summary.events,
                       rate=summary.events_per_second)

        summary = import_blocks(db, ws, events_file.blocks(), source=source,
                                rejects=Rejects(rejects_path, append=resuming), convert=convert,
                                batch_size=batch_size, restart=restart, on_progress=progress)
        progress(summary)
        bar.update(task, completed=events_file.total or 1)
    return summary


def _name_cvat_reference(db: Database, ws: Workspace, converter) -> None:
    with db.transaction() as tx:
        for labeler in sorted(converter.used_labelers):
            name, email = converter.labelers.get(labeler, (None, None))
            if name or email:
                tx.execute(connectors_sql.NAME_TOOL_LABELER, {"workspace_id": ws.id, "id": labeler,
                                                              "display_name": name or email, "email": email})
        for slug, name in sorted(converter.projects.items()):
            if slug not in converter.used_projects:
                continue
            tx.execute(connectors_sql.NAME_TOOL_PROJECT, {"workspace_id": ws.id, "slug": slug,
                                                          "name": name, "type": "object-detection"})


def _print_summary(path: Path, s: ImportSummary) -> None:
    resumed = f" (resumed after row {s.resumed_after:,})" if s.resumed_after else ""
    cli.out.print(f"Imported {path.name}{resumed}: {s.rows:,} rows, {s.events:,} events "
                  f"({s.accepted:,} new, {s.duplicates:,} already stored) in {s.seconds:.1f} s, "
                  f"{s.events_per_second:,.0f} events/s.")
    for reason, count in sorted(s.skipped.items(), key=lambda item: (-item[1], item[0])):
        cli.out.print(f"  skipped {count:,} rows: {reason}")
    if s.rejected:
        cli.out.print(f"  rejected {s.rejected:,} rows; reasons in {s.rejects_path}")
    else:
        cli.out.print("  rejected 0 rows")
