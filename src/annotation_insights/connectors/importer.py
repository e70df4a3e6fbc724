"""The import loop every file and tool export goes through: batched, resumable, idempotent.

A block of a file that arrives as valid columns is ingested whole, in one transaction.
Other rows are converted to events, validated one by one (a bad row is written to the
rejects file with its reason; the rest go in), and ingested in batches. Each batch commits
together with the import's checkpoint (rows done so far), so a crash or Ctrl-C loses at
most the batch in flight and the next run of the same command resumes after the last
committed row. Re-importing a finished file is harmless: event ids make it a no-op.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from annotation_insights.connectors.files import Block, RowError
from annotation_insights.events.batch import EventBatch, batch_of_events, checked_batch
from annotation_insights.events.ingest import catch_up_if_due, ingest_in, latest_allowed_us
from annotation_insights.events.schema import Event, EventError, validate_event
from annotation_insights.metrics.definitions import Facts, session_facts
from annotation_insights.store.queries import connectors as connectors_sql
from annotation_insights.store.database import Database
from annotation_insights.tenancy.workspaces import Workspace

DEFAULT_BATCH = 5_000


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


def run_import(db: Database, workspace: Workspace, rows: Iterable[tuple[int, Any]], **options: Any) -> ImportSummary:
    """`import_blocks` for a stream of `(row number, raw event)` pairs."""
    return import_blocks(db, workspace, [Block(1, 0, None, lambda: iter(rows))], **options)


def import_blocks(db: Database, workspace: Workspace, blocks: Iterable[Block], *, source: str,
                  rejects: Rejects, convert: Convert = passthrough, batch_size: int = DEFAULT_BATCH,
                  restart: bool = False,
                  on_progress: Callable[[ImportSummary], None] | None = None) -> ImportSummary:
    """Blocks that come as valid columns are stored one transaction each; any other block
    goes row by row, `batch_size` events a transaction, bad rows to the rejects file."""
    summary = ImportSummary(rejects_path=rejects.path)
    params = {"workspace_id": workspace.id, "source": source}
    if restart:
        with db.transaction() as tx:
            tx.execute(connectors_sql.DELETE_IMPORT_CHECKPOINT, params)
    done = db.read(connectors_sql.SELECT_IMPORT_CHECKPOINT, params)
    summary.resumed_after = int(done[0][0]) if done else 0
    run = _Run(db, workspace, params, summary, rejects, on_progress)
    columnar = convert is passthrough
    try:
        with contextlib.closing(_ahead(blocks, run.prepare if columnar else lambda block: None)) as ahead:
            for block, prepared in ahead:  # closing: an error here also stops the reader
                if prepared is None or not run.columns(block, prepared):
                    run.rows(block.rows(), convert, batch_size)
        run.flush()
        with db.transaction() as tx:
            tx.execute(connectors_sql.DELETE_IMPORT_CHECKPOINT, params)
    finally:
        rejects.close()
        summary.seconds = time.perf_counter() - run.started
    return summary


@dataclass(frozen=True)
class _Prepared:
    batch: EventBatch | None
    facts: Facts | None
    rows: int = 0


def _ahead(blocks: Iterable[Block], prepare: Callable[[Block], Any]) -> Iterator[tuple[Block, Any]]:
    """`(block, prepare(block))`, with the next block read and prepared on a second thread
    while the caller stores this one: reading, checking and deriving use the other core
    (Arrow and DuckDB release the GIL)."""
    results: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                results.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for block in blocks:
                if not offer((block, prepare(block))):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the caller's thread
            offer(exc)

    worker = threading.Thread(target=work, name="import-reader", daemon=True)
    worker.start()
    try:
        while (item := results.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


_DONE = object()


class _Run:
    """One import's progress: rows read, events pending, the checkpoint to advance."""

    def __init__(self, db: Database, workspace: Workspace, params: dict, summary: ImportSummary,
                 rejects: Rejects, on_progress: Callable[[ImportSummary], None] | None) -> None:
        self.db, self.workspace, self.params = db, workspace, params
        self.summary, self.rejects, self.on_progress = summary, rejects, on_progress
        self.started = time.perf_counter()
        self.latest = latest_allowed_us()
        self.pending: list[Event] = []
        self.last_row = summary.resumed_after

    def prepare(self, block: Block) -> _Prepared | None:
        """A block of columns checked and its rollup deltas derived (while the block
        before it is being written); None if it has no columns or an invalid row."""
        resumed = self.summary.resumed_after
        if block.table is None:
            return None
        if block.last_row <= resumed:
            return _Prepared(None, None)
        table = block.table.slice(max(0, resumed - block.first_row + 1))
        batch = checked_batch(table, latest_us=self.latest)
        if batch is None:
            return None
        return _Prepared(batch, session_facts(batch.table, self.workspace.timezone), table.num_rows)

    def columns(self, block: Block, prepared: _Prepared) -> bool:
        """Store a prepared block in one transaction."""
        self.summary.rows = block.last_row
        if prepared.batch is None:  # committed by an earlier run of this import
            return True
        self.flush()
        self.last_row = block.last_row
        self._commit(prepared.batch, prepared.rows, prepared.facts)
        return True

    def rows(self, rows: Iterable[tuple[int, Any]], convert: Convert, batch_size: int) -> None:
        for number, raw in rows:
            self.summary.rows = number
            converted = convert(number, raw)  # also for resumed rows: converters keep state
            if number <= self.summary.resumed_after:
                continue
            self.last_row = number
            self._collect(number, raw, converted)
            if len(self.pending) >= batch_size:
                self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        events, self.pending = self.pending, []
        self._commit(batch_of_events(events), len(events), None)

    def _collect(self, number: int, raw: Any, converted: Converted) -> None:
        if isinstance(converted, Skip):
            self.summary.skipped[converted.reason] = self.summary.skipped.get(converted.reason, 0) + 1
            return
        if isinstance(converted, RowError):
            self.summary.rejected += 1
            self.rejects.write(number, converted.field, converted.message, raw)
            return
        for event in converted:
            try:
                self.pending.append(validate_event(event, latest_time_us=self.latest))
            except EventError as exc:
                self.summary.rejected += 1
                self.rejects.write(number, exc.field, exc.message, event)

    def _commit(self, batch: EventBatch, events: int, facts: Facts | None) -> None:
        with self.db.transaction() as tx:
            result = ingest_in(tx, self.workspace, batch, facts)
            tx.execute(connectors_sql.UPSERT_IMPORT_CHECKPOINT, {
                **self.params, "rows_done": self.last_row,
                "now": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)})
        catch_up_if_due(self.db)
        self.summary.events += events
        self.summary.accepted += result.accepted
        self.summary.duplicates += result.duplicates
        self.summary.seconds = time.perf_counter() - self.started
        if self.on_progress:
            self.on_progress(self.summary)
