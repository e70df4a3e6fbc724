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
from annotation_insights.store.dialect import DUCKDB

_ARROW_TYPES = {"TEXT": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(),
                "BOOLEAN": pa.bool_(), "DATE": pa.date32(), "UUID": pa.string()}


class DuckDBTransaction(Transaction):
    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self._cursor = cursor
        self._staged: list[str] = []

    def execute(self, sql: str, params: Params | None = None) -> list[tuple]:
        self._cursor.execute(DUCKDB.bind(sql), params or {})
        return self._cursor.fetchall() if self._cursor.description else []

    def stage(self, name: str, columns: Sequence[tuple[str, str]], rows: list[tuple]) -> None:
        arrays = list(zip(*rows)) if rows else [[] for _ in columns]
        table = pa.table({col: pa.array(values, type=_ARROW_TYPES[kind])
                          for (col, kind), values in zip(columns, arrays)})
        self._cursor.register(name, table)
        self._staged.append(name)

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

    def __init__(self, path: str, *, read_only: bool = False) -> None:
        self.description = path
        try:
            self._conn = duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreUnavailable(
                    f"The database file {path} is in use by another process (is "
                    "`annotation-insights serve` running on it?). DuckDB allows one process "
                    "per file: stop that server first, use its HTTP API, or run on PostgreSQL "
                    "(--database postgresql://...) to share one store between processes.") from exc
            raise StoreUnavailable(f"Cannot open the database file {path}: {exc}") from exc
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()

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
            tx = DuckDBTransaction(cursor)
            cursor.execute("BEGIN TRANSACTION")
            try:
                yield tx
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            else:
                cursor.execute("COMMIT")
            finally:
                tx.release()
                cursor.close()

    def close(self) -> None:
        with self._cursors_lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
        self._conn.close()
