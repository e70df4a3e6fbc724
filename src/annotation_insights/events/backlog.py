"""The rollup backlog of the embedded store: rollups applied for many batches at once.

Maintaining the rollups costs about the same for 5,000 events as for 50,000: a dozen
statements, each mostly fixed cost. So on DuckDB (one process, one writer) a batch
posted over HTTP is acknowledged once its events, each marked with the batch's number
(`backlog_batch`), are committed, and the rollups of all backlogged batches are applied
in one transaction, which records the last number applied (`rollup_progress`):
when the backlog holds `APPLY_AT` events, when no batch has been in flight for
`APPLY_WHEN_IDLE` seconds (so the stats query after a burst of ingest does not wait for
it: ~0.5 s for a full backlog), before any read that needs the rollups (every
`snapshot()`), and when the store closes. The marks make this crash-safe: the events
numbered after the last number applied are applied first when the process starts.
Batches that arrive while others are being written are committed together (a group
commit).

An acknowledged event is therefore still counted by the very next stats query (SPEC §3):
that query applies the backlog before reading. Rollups are order-independent, so the
backlog may be applied before or after batches that other paths (file import,
connectors) ingest directly.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass

import pyarrow as pa

from annotation_insights.events.batch import EVENT_SCHEMA, EventBatch, pairs
from annotation_insights.events.ingest import (IngestResult, apply_facts, ensure_placeholders,
                                              insert_new_events)
from annotation_insights.metrics.definitions import session_facts
from annotation_insights.store.queries import ingest as ingest_sql, tenancy as tenancy_sql
from annotation_insights.store.database import Database, Transaction
from annotation_insights.tenancy.workspaces import Workspace

# Each catch-up of events out of time order reads every stored fact once (queries/ingest.py,
# LOOKUP_SESSION_IMAGES), so fewer catch-ups are cheaper; each holds its events' working
# memory until it commits. 400,000 kept a 10M load in random order under the server's
# peak at 200,000 once (session, annotation) facts stopped being updated; 800,000 did
# not (1.52 GB).
APPLY_AT = 400000
# Longer than the gap between one client's consecutive batches, so a stream of batches
# keeps sharing one catch-up; short next to a person opening the dashboard after it.
APPLY_WHEN_IDLE = 0.25

log = logging.getLogger("annotation_insights")


@dataclass
class _Ticket:
    workspace: Workspace
    batch: EventBatch
    pairs: set[tuple[str, str]]  # the batch's, found before it waits for the writer
    result: IngestResult | None = None
    error: Exception | None = None


@dataclass(frozen=True)
class _Entry:
    batch_no: int
    workspace: Workspace
    events: pa.Table  # EVENT_SCHEMA


class RollupBacklog:
    """Kept in memory as well as in the store; every change to the entries happens under
    the store's single writer lock (inside a transaction, or in its after-commit callbacks)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._entries: list[_Entry] = []
        self._events = 0
        self._next_no: int | None = None  # None until the stored backlog is loaded
        self._applying = threading.Lock()  # one catch-up at a time
        self._queue: list[_Ticket] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()
        self._idle = threading.Condition()  # guards the four below
        self._in_flight = 0  # batches being ingested (or waiting to be)
        self._last_batch: float | None = None  # when the last one ended, if not applied since
        self._closed = False
        self._worker: threading.Thread | None = None

    def ingest(self, workspace: Workspace, batch: EventBatch) -> IngestResult:
        """Store a batch's new events and backlog them. Batches that arrive while another
        group is being written are written together, in one transaction: a group commit,
        so one durable commit (the costliest step for a small batch) serves them all."""
        ticket = _Ticket(workspace, batch, pairs(batch.table))
        with self._idle:
            self._in_flight += 1
        try:
            with self._queue_lock:
                self._queue.append(ticket)
            with self._leader:
                if ticket.result is None and ticket.error is None:
                    with self._queue_lock:
                        group, self._queue = self._queue, []
                    self._write(group)
            if ticket.error is not None:
                raise ticket.error
            self.catch_up_if_due()
            return ticket.result  # type: ignore[return-value]
        finally:
            self._batch_ended()

    def _batch_ended(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._last_batch = time.monotonic()
            if self._closed:
                return
            if self._worker is None:
                self._worker = threading.Thread(target=self._apply_when_idle,
                                                name="rollup-backlog", daemon=True)
                self._worker.start()
            self._idle.notify()

    def _apply_when_idle(self) -> None:
        """The worker thread: once per pause in ingest, apply what the batches before it
        left. A pause starts when no batch is in flight: batches held up by a catch-up
        (~0.5 s for a full backlog) do not make one."""
        while True:
            with self._idle:
                while not self._closed:
                    if self._last_batch is None or self._in_flight:
                        self._idle.wait()
                        continue
                    left = self._last_batch + APPLY_WHEN_IDLE - time.monotonic()
                    if left <= 0:
                        break
                    self._idle.wait(left)
                if self._closed:
                    return
                self._last_batch = None
            try:
                self.catch_up()
            except Exception:  # the next read or full backlog applies it instead
                log.exception("applying the rollup backlog after a pause in ingest failed")

    def close(self) -> None:
        """Stop applying after pauses and apply what is left (the store is closing)."""
        with self._idle:
            self._closed = True
            self._idle.notify()
        if self._worker is not None:
            self._worker.join()
        self.catch_up()

    def _write(self, group: list[_Ticket]) -> None:
        try:
            with self._db.transaction() as tx:
                results = [self.store(tx, t.workspace, t.batch, t.pairs) for t in group]
        except Exception as exc:  # every batch of the group failed with it
            for ticket in group:
                ticket.error = exc
            return
        for ticket, result in zip(group, results):
            ticket.result = result

    def store(self, tx: Transaction, workspace: Workspace, batch: EventBatch,
              batch_pairs: set[tuple[str, str]] | None = None) -> IngestResult:
        """Store a batch's new events marked as backlogged, in the caller's transaction. A
        number taken by a batch with no new events (or rolled back) is simply never seen.
        `batch_pairs`, the batch's (project, labeler) pairs if known, are those of its new
        events when all of its events are new."""
        self._load(tx)
        batch_no = self._take_number()
        fresh, result = insert_new_events(tx, workspace, batch, backlog_batch=batch_no)
        if len(fresh):
            known = batch_pairs is not None and len(fresh) == len(batch)
            ensure_placeholders(tx, workspace.id, batch_pairs if known else pairs(fresh.table))
            entry = _Entry(batch_no, workspace, fresh.table)
            tx.after_commit(lambda: self._add(entry))
        return result

    def due(self) -> bool:
        return self._events >= APPLY_AT

    def catch_up_if_due(self) -> None:
        """To be called outside any transaction (the store's writer lock is not re-entrant)."""
        if self.due():
            self.catch_up(only_if_due=True)

    def catch_up(self, *, only_if_due: bool = False) -> None:
        """Apply the rollups of everything backlogged so far. The deltas are derived before
        the write transaction, so other batches keep being written meanwhile; each of
        those finds the backlog due when it ends, and waits here for this catch-up, after
        which its own (`only_if_due`) is not due any more: without that check, every full
        backlog was followed by 3–4 catch-ups of a few batches each."""
        with self._applying:
            if only_if_due and not self.due():
                return
            if self._next_no is None:
                with self._db.transaction() as tx:
                    self._load(tx)
            entries = list(self._entries)
            if not entries:
                return
            deltas = []
            for workspace_id, group in itertools.groupby(
                    sorted(entries, key=lambda e: e.workspace.id), key=lambda e: e.workspace.id):
                group = list(group)
                events = pa.concat_tables(e.events for e in group)
                deltas.append((workspace_id, session_facts(events, group[0].workspace.timezone)))
            with self._db.transaction() as tx:
                for workspace_id, facts in deltas:
                    tx.lock_workspace(workspace_id)
                    ensure_placeholders(tx, workspace_id, facts.pairs())
                    apply_facts(tx, workspace_id, facts)
                tx.execute(ingest_sql.MARK_BACKLOG_APPLIED, {"upto": max(e.batch_no for e in entries)})
                tx.after_commit(lambda: self._remove(entries))

    def _take_number(self) -> int:
        number = self._next_no
        self._next_no = number + 1  # type: ignore[operator]
        return number  # type: ignore[return-value]

    def _add(self, entry: _Entry) -> None:
        self._entries.append(entry)
        self._events += entry.events.num_rows

    def _remove(self, applied: list[_Entry]) -> None:
        done = {e.batch_no for e in applied}
        self._entries = [e for e in self._entries if e.batch_no not in done]
        self._events = sum(e.events.num_rows for e in self._entries)

    def _load(self, tx: Transaction) -> None:
        """Once per process: take over what an earlier process left in the backlog."""
        if self._next_no is not None:
            return
        applied_through = tx.execute(ingest_sql.SELECT_APPLIED_THROUGH)[0][0]
        rows = tx.execute(ingest_sql.SELECT_BACKLOG, {"applied_through": applied_through})
        workspaces: dict[int, Workspace] = {}
        for (batch_no, workspace_id), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
            if workspace_id not in workspaces:
                found = tx.execute(tenancy_sql.SELECT_WORKSPACE_BY_ID, {"id": workspace_id})
                workspaces[workspace_id] = Workspace(*found[0])
            columns = list(zip(*(row[2:] for row in group)))
            events = pa.table([pa.array(values, type=field.type)
                               for values, field in zip(columns, EVENT_SCHEMA)], schema=EVENT_SCHEMA)
            self._add(_Entry(batch_no, workspaces[workspace_id], events))
        self._next_no = max((e.batch_no for e in self._entries), default=applied_through) + 1


def attach(db: Database) -> None:
    """Give a store that defers its rollups its backlog."""
    if db.defers_rollups:
        db.rollup_backlog = RollupBacklog(db)
