"""Embedded DuckDB: one file, one process, one writer.

Like Datasette's `Database`, all writes go through a single lock-protected connection
while reads use per-thread cursors, which DuckDB's MVCC lets run beside a write.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from annotation_insights.errors import StoreUnavailable
from annotation_insights.store.database import Database, Params, Reader, Transaction
from annotation_insights.store import queries
from annotation_insights.store.dialect import DUCKDB
from annotation_insights.store.event_keys import EventKeys

_ARROW_TYPES = {"TEXT": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(),
                "BOOLEAN": pa.bool_(), "DATE": pa.date32(), "UUID": pa.string()}


class DuckDBTransaction(Transaction):
    def __init__(self, cursor: duckdb.DuckDBPyConnection, event_keys: EventKeys,
                 known_names: set) -> None:
        super().__init__(known_names)
        self._cursor = cursor
        self._staged: list[str] = []
        self._event_keys = event_keys
        self.new_event_keys: dict[int, list[tuple[int, int]]] = {}

    def execute(self, sql: str, params: Params | None = None) -> list[tuple]:
        self._cursor.execute(DUCKDB.bind(sql), params or {})
        return self._cursor.fetchall() if self._cursor.description else []

    def stage(self, name: str, columns: Sequence[tuple[str, str]], rows: list[tuple]) -> None:
        arrays = list(zip(*rows)) if rows else [[] for _ in columns]
        table = pa.table({col: pa.array(values, type=_ARROW_TYPES[kind])
                          for (col, kind), values in zip(columns, arrays)})
        self._cursor.register(name, table)
        self._staged.append(name)

    def insert_new_events(self, workspace_id: int, rows: list[tuple]) -> set[tuple[int, int]]:
        stored = self._event_keys.of(workspace_id)
        pending = self.new_event_keys.setdefault(workspace_id, [])
        known = stored.contains([row[:2] for row in rows]) if rows else []
        pending_set = set(pending)
        new_rows = [row for row, seen in zip(rows, known) if not seen and row[:2] not in pending_set]
        if new_rows:
            self.stage("stage_events", queries.STAGE_EVENTS, new_rows)
            self.execute(queries.INSERT_EVENTS, {"workspace_id": workspace_id})
        new_keys = [row[:2] for row in new_rows]
        pending.extend(new_keys)
        return set(new_keys)

    def lock_workspace(self, workspace_id: int) -> None:
        """The database's single writer lock already serialises every write."""

    def release(self) -> None:
        for name in self._staged:
            self._cursor.unregister(name)


class _CursorReader(Reader):
    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self._cursor = cursor

    def read(self, sql: str, params: Params | None = None) -> list[tuple]:
        self._cursor.execute(DUCKDB.bind(sql), params or {})
        return self._cursor.fetchall()


class DuckDBDatabase(Database):
    dialect = DUCKDB

    def __init__(self, path: str, *, read_only: bool = False, memory_limit: str = "1GB") -> None:
        self.description = path
        try:
            # DuckDB would otherwise take up to 80% of the machine's memory for its caches.
            self._conn = duckdb.connect(path, read_only=read_only,
                                        config={"memory_limit": memory_limit})
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
        self._event_keys = EventKeys(self._load_event_keys)
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()

    def _load_event_keys(self, workspace_id: int):
        cursor = self._conn.cursor()
        try:
            arrays = cursor.execute(DUCKDB.bind(queries.SELECT_EVENT_KEYS),
                                    {"workspace_id": workspace_id}).fetchnumpy()
        finally:
            cursor.close()
        return arrays["key_hi"], arrays["key_lo"]

    def _reader(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._conn.cursor()
            self._local.cursor = cursor
            with self._cursors_lock:
                self._cursors.append(cursor)
        return cursor

    def read(self, sql: str, params: Params | None = None) -> list[tuple]:
        return _CursorReader(self._reader()).read(sql, params)

    @contextmanager
    def snapshot(self) -> Iterator[Reader]:
        cursor = self._reader()
        cursor.execute("BEGIN TRANSACTION")
        try:
            yield _CursorReader(cursor)
        finally:
            cursor.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._write_lock:
            cursor = self._conn.cursor()
            tx = DuckDBTransaction(cursor, self._event_keys, self.known_names)
            cursor.execute("BEGIN TRANSACTION")
            try:
                yield tx
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            else:
                cursor.execute("COMMIT")
                for workspace_id, keys in tx.new_event_keys.items():
                    if keys:
                        self._event_keys.of(workspace_id).add(keys)
                tx.committed()
            finally:
                tx.release()
                cursor.close()

    def close(self) -> None:
        with self._cursors_lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
        self._conn.close()
