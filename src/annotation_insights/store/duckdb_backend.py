"""Embedded DuckDB: one file, one process, one writer.

Like Datasette's `Database`, all writes go through a single lock-protected connection
while reads use per-thread cursors, which DuckDB's MVCC lets run beside a write.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

from annotation_insights.errors import StoreUnavailable
from annotation_insights.settings import DUCKDB_MEMORY_LIMIT
from annotation_insights.store.database import Columns, Database, Params, Reader, Transaction
from annotation_insights.store.queries import ingest as ingest_sql
from annotation_insights.store.dialect import DUCKDB
from annotation_insights.store.duckdb_statements import statement
from annotation_insights.store.event_keys import EventKeys, KeyRuns
from annotation_insights.store.reference_cache import ReferenceCache, writes_reference

if TYPE_CHECKING:
    from annotation_insights.events.batch import EventBatch


# How large inserts reach the file. A bulk load (an import: one process, blocks of some
# 300,000 events) has DuckDB compress each insert larger than a row group into the file
# before its commit ("optimistic writes"), so it never goes through the WAL and the
# checkpoints that rewrite the WAL's data: a 10M-event import 37 -> 27 s. Each such insert
# ends in a part-full row group, and DuckDB's checkpoint would "vacuum" runs of those into
# fewer row groups, rewriting them and leaving the first copy's space free in the file (a
# fifth of it after a 10M import), so a bulk load turns vacuuming off. A block's sessions
# and (session, image) facts are usually inserts smaller than a row group, so the tables
# the stats read stay compact. A serving process writes through the WAL and vacuums: with
# the bulk settings, a store loaded over HTTP ended with part-full row groups in every
# table (sessions 2 -> 7 row groups at 10M events; a 90-day answer 24.8 -> 28.5 ms).
# Checkpointing a server's store at 128 MB instead of 256 held less in memory (a 10M load
# of UUID ids in random order 1.41 -> 1.34 GiB at its peak), but the blocks each mid-load
# checkpoint rewrote stayed free in the file: 1M events 47 -> 56 bytes an event in time
# order, 55.5 -> 60.8 in random order.
_BULK_LOAD = {"enable_optimistic_write": True, "max_vacuum_tasks": 0}
_SERVING = {"enable_optimistic_write": False}


class DuckDBTransaction(Transaction):
    dialect = DUCKDB

    def __init__(self, cursor: duckdb.DuckDBPyConnection, event_keys: EventKeys,
                 known_names: set, reference: ReferenceCache) -> None:
        super().__init__(known_names)
        self._cursor = cursor
        self._staged: list[str] = []
        self._event_keys = event_keys
        self._reference = reference
        self._writes_reference = False
        self.new_event_keys: dict[int, KeyRuns] = {}
        self._unwritten: list[tuple[int, int | None, pa.Table]] = []  # see write_events

    def execute(self, sql: str, params: Params | None = None) -> list[tuple]:
        self.write_events()
        if not self._writes_reference and writes_reference(sql):
            self._writes_reference = True
            self.after_commit(self._reference.changed)
        self._cursor.execute(statement(sql), DUCKDB.used(sql, params))
        return self._cursor.fetchall() if self._cursor.description else []

    def stage_table(self, name: str, columns: Columns, table: pa.Table) -> None:
        self._cursor.register(name, table.select([col for col, _ in columns]))
        if name not in self._staged:
            self._staged.append(name)

    def stage_query(self, name: str, sql: str, params: Params | None = None) -> None:
        self.write_events()
        # A temporary table lives in the transaction's connection, which closes with it.
        self._cursor.execute(statement(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}"),
                             DUCKDB.used(sql, params))

    def insert_new_events(self, workspace_id: int, batch: "EventBatch",
                          backlog_batch: int | None = None) -> np.ndarray:
        pending = self.new_event_keys.setdefault(workspace_id, KeyRuns())
        keys = batch.keys_sorted()
        new = ~(self._event_keys.of(workspace_id).contains(keys) | pending.contains(keys))
        if new.any():
            table = batch.table if new.all() else batch.table.filter(pa.array(new))
            self._unwritten.append((workspace_id, backlog_batch, table))
            pending.add(keys, where=new)
        return new

    def write_events(self) -> None:
        """Insert the new events of every batch so far in one statement: before any other
        statement of the transaction (which may read them) and before it commits."""
        if not self._unwritten:
            return
        workspace_ids, numbers, tables = zip(*self._unwritten)
        self._unwritten = []
        rows = [table.num_rows for table in tables]
        events = pa.concat_tables(tables)
        events = events.append_column("workspace_id", pa.array(np.repeat(workspace_ids, rows), pa.int32()))
        events = events.append_column("backlog_batch", pa.array(
            np.repeat([number or 0 for number in numbers], rows), pa.int64(),
            mask=np.repeat([number is None for number in numbers], rows)))
        self.stage_table("stage_events", ingest_sql.STAGE_WRITTEN_EVENTS, events)
        self.execute(ingest_sql.INSERT_EVENTS)

    def lock_workspace(self, workspace_id: int) -> None:
        """The database's single writer lock already serialises every write."""

    def release(self) -> None:
        for name in self._staged:
            self._cursor.unregister(name)


class _CursorReader(Reader):
    def __init__(self, cursor: duckdb.DuckDBPyConnection, reference: ReferenceCache,
                 generation: int) -> None:
        self._cursor = cursor
        self._reference, self._generation = reference, generation

    def read(self, sql: str, params: Params | None = None) -> list[tuple]:
        self._cursor.execute(statement(sql), params or {})
        return self._cursor.fetchall()

    def stream(self, sql: str, schema: pa.Schema, batch_rows: int) -> Iterator[pa.Table]:
        # A relation's reader streams; `execute` would first copy every row of the result.
        for batch in self._cursor.sql(statement(sql)).to_arrow_reader(batch_rows):
            yield pa.Table.from_batches([batch]).rename_columns(schema.names).cast(schema)

    def read_reference(self, sql: str, params: Params | None = None) -> list[tuple]:
        """Remembered answers are used only if read at the generation this reader's
        snapshot began in, so they agree with the snapshot's other reads."""
        return self._reference.get(_reference_key(sql, params), self._generation,
                                   lambda: self.read(sql, params))


def _reference_key(sql: str, params: Params | None) -> tuple:
    return sql, tuple(sorted((params or {}).items()))


# Connections a process opens to one file share DuckDB's database, so they share what
# is remembered of it. Opening a file starts its memory over: it may be a new file at the
# path of one closed before.
_REFERENCE_CACHES: dict[str, ReferenceCache] = {}
_REFERENCE_CACHES_LOCK = threading.Lock()


def _reference_cache(path: str) -> ReferenceCache:
    if path == ":memory:":
        return ReferenceCache()
    with _REFERENCE_CACHES_LOCK:
        cache = _REFERENCE_CACHES.setdefault(os.path.realpath(path), ReferenceCache())
    cache.changed()
    return cache


class DuckDBDatabase(Database):
    dialect = DUCKDB
    defers_rollups = True

    def __init__(self, path: str, *, read_only: bool = False, memory_limit: str = DUCKDB_MEMORY_LIMIT,
                 bulk_load: bool = False) -> None:
        self.description = path
        try:
            # DuckDB would otherwise take up to 80% of the machine's memory for its caches.
            self._conn = duckdb.connect(path, read_only=read_only, config={
                "memory_limit": memory_limit, "checkpoint_threshold": "256MB",
                **(_BULK_LOAD if bulk_load else _SERVING)})
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreUnavailable(
                    f"The database file {path} is in use by another process (is "
                    "`annotation-insights serve` running on it?). DuckDB allows one process "
                    "per file: stop that server first, use its HTTP API, or run on PostgreSQL "
                    "(--database postgresql://...) to share one store between processes.") from exc
            raise StoreUnavailable(f"Cannot open the database file {path}: {exc}") from exc
        self._write_lock = threading.Lock()
        self.known_names: set = set()
        self._reference = _reference_cache(path)
        self._event_keys = EventKeys(self._load_event_keys)
        # One reading cursor per thread, held here and not by the thread: a DuckDB
        # connection released by a thread that ends while the interpreter exits aborts
        # the process, so every cursor is closed by `close` instead.
        self._cursors: dict[int, duckdb.DuckDBPyConnection] = {}
        self._cursors_lock = threading.Lock()

    def _load_event_keys(self, workspace_id: int):
        cursor = self._conn.cursor()
        try:
            arrays = cursor.execute(statement(ingest_sql.SELECT_EVENT_KEYS),
                                    {"workspace_id": workspace_id}).fetchnumpy()
        finally:
            cursor.close()
        return arrays["key_hi"].view(np.int64), arrays["key_lo"].view(np.int64)

    def _reader(self) -> duckdb.DuckDBPyConnection:
        thread = threading.get_ident()
        with self._cursors_lock:
            cursor = self._cursors.get(thread)
            if cursor is None:
                cursor = self._cursors[thread] = self._conn.cursor()
        return cursor

    def read(self, sql: str, params: Params | None = None) -> list[tuple]:
        return _CursorReader(self._reader(), self._reference, self._reference.generation).read(sql, params)

    def read_reference(self, sql: str, params: Params | None = None) -> list[tuple]:
        return self._reference.get(_reference_key(sql, params), self._reference.generation,
                                   lambda: self.read(sql, params))

    @contextmanager
    def snapshot(self) -> Iterator[Reader]:
        if self.rollup_backlog is not None:
            self.rollup_backlog.catch_up()
        cursor = self._reader()
        generation = self._reference.generation  # before the snapshot: see _CursorReader
        cursor.execute(statement("BEGIN TRANSACTION"))
        try:
            yield _CursorReader(cursor, self._reference, generation)
        finally:
            cursor.execute(statement("COMMIT"))

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._write_lock:
            cursor = self._conn.cursor()
            tx = DuckDBTransaction(cursor, self._event_keys, self.known_names, self._reference)
            tx.rollup_backlog = self.rollup_backlog
            cursor.execute(statement("BEGIN TRANSACTION"))
            try:
                yield tx
                tx.write_events()  # those of its last batches, or rolled back with the rest
            except BaseException:
                cursor.execute(statement("ROLLBACK"))
                raise
            else:
                cursor.execute(statement("COMMIT"))
                for workspace_id, keys in tx.new_event_keys.items():
                    self._event_keys.of(workspace_id).add_runs(keys)
                tx.committed()
            finally:
                tx.release()
                cursor.close()

    def close(self) -> None:
        if self.rollup_backlog is not None:
            self.rollup_backlog.close()
        with self._cursors_lock:
            for cursor in self._cursors.values():
                cursor.close()
            self._cursors.clear()
        self._conn.close()
