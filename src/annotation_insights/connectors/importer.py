"""The import loop every file and tool export goes through: batched, resumable, idempotent.

Rows are converted to events, validated one by one (a bad row is written to the rejects
file with its reason; the rest go in), and ingested in batches. Each batch commits
together with the import's checkpoint (rows done so far), so a crash or Ctrl-C loses at
most the batch in flight and the next run of the same command resumes after the last
committed row. Re-importing a finished file is harmless: event ids make it a no-op.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from annotation_insights.connectors.files import RowError
from annotation_insights.events.ingest import ingest_in
from annotation_insights.events.schema import Event, EventError, validate_event
from annotation_insights.store import queries as q
from annotation_insights.store.database import Database
from annotation_insights.tenancy.workspaces import Workspace

DEFAULT_BATCH = 5_000
FUTURE_TOLERANCE_US = 24 * 3600 * 1_000_000


@dataclass
class Skip:
    """A row that is understood but carries nothing to count (e.g. an unrelated CVAT scope)."""

    reason: str


Converted = list[dict] | RowError | Skip
Convert = Callable[[int, Any], Converted]


@dataclass
class ImportSummary:
    rows: int = 0
    resumed_after: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rejects_path: Path | None = None

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def source_fingerprint(kind: str, path: Path) -> str:
    """Names one version of one file: a changed file starts over (ids keep it safe)."""
    stat = path.stat()
    return f"{kind}:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"[:1000]


def passthrough(number: int, raw: Any) -> Converted:
    return raw if isinstance(raw, RowError) else [raw]


class Rejects:
    """Rejected rows, one JSON object a line: `{row, field, message, event}`."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        self._append = append
        self._file: TextIO | None = None
        if not append:
            path.unlink(missing_ok=True)  # a fresh import must not show an old run's rejects

    def write(self, row: int, field: str | None, message: str, raw: Any) -> None:
        if self._file is None:
            self._file = self.path.open("a" if self._append else "w", encoding="utf-8")
        record = {"row": row, "field": field, "message": message}
        if not isinstance(raw, RowError):
            record["event"] = raw
        self._file.write(orjson.dumps(record, default=str).decode() + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def run_import(db: Database, workspace: Workspace, rows: Iterable[tuple[int, Any]], *,
               source: str, rejects: Rejects, convert: Convert = passthrough,
               batch_size: int = DEFAULT_BATCH, restart: bool = False,
               on_progress: Callable[[ImportSummary], None] | None = None) -> ImportSummary:
    summary = ImportSummary(rejects_path=rejects.path)
    params = {"workspace_id": workspace.id, "source": source}
    if restart:
        with db.transaction() as tx:
            tx.execute(q.DELETE_IMPORT_CHECKPOINT, params)
    done = db.read(q.SELECT_IMPORT_CHECKPOINT, params)
    summary.resumed_after = int(done[0][0]) if done else 0
    started = time.perf_counter()
    batch: list[Event] = []
    last_row = summary.resumed_after
    latest = int(time.time() * 1_000_000) + FUTURE_TOLERANCE_US
    try:
        for number, raw in rows:
            summary.rows = number
            converted = convert(number, raw)  # also for resumed rows: converters keep state
            if number <= summary.resumed_after:
                continue
            last_row = number
            _collect(number, raw, converted, batch, summary, rejects, latest)
            if len(batch) >= batch_size:
                _commit(db, workspace, batch, params, last_row, summary)
                batch = []
                summary.seconds = time.perf_counter() - started
                if on_progress:
                    on_progress(summary)
        _commit(db, workspace, batch, params, last_row, summary)
        with db.transaction() as tx:
            tx.execute(q.DELETE_IMPORT_CHECKPOINT, params)
    finally:
        rejects.close()
        summary.seconds = time.perf_counter() - started
    return summary


def _collect(number: int, raw: Any, converted: Converted, batch: list[Event],
             summary: ImportSummary, rejects: Rejects, latest: int) -> None:
    if isinstance(converted, Skip):
        summary.skipped[converted.reason] = summary.skipped.get(converted.reason, 0) + 1
        return
    if isinstance(converted, RowError):
        summary.rejected += 1
        rejects.write(number, converted.field, converted.message, raw)
        return
    for event in converted:
        try:
            batch.append(validate_event(event, latest_time_us=latest))
        except EventError as exc:
            summary.rejected += 1
            rejects.write(number, exc.field, exc.message, event)


def _commit(db: Database, workspace: Workspace, batch: list[Event], params: dict,
            last_row: int, summary: ImportSummary) -> None:
    with db.transaction() as tx:
        result = ingest_in(tx, workspace, batch)
        tx.execute(q.UPSERT_IMPORT_CHECKPOINT, {
            **params, "rows_done": last_row,
            "now": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)})
    summary.events += len(batch)
    summary.accepted += result.accepted
    summary.duplicates += result.duplicates
