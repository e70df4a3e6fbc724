"""An in-process DuckDB that works on one batch of events at a time, for every backend.

Validating events and deriving their session facts one Python object at a time cost
~13 µs an event, more than everything the store does with them. The same work as SQL
over Arrow columns costs well under 1 µs an event and runs outside the GIL, so requests
can prepare their batches in parallel while another batch is being written. The
engine holds no data between calls: each call registers its Arrow inputs, runs one
statement and unregisters them.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

import duckdb
import pyarrow as pa

from annotation_insights.store.queries import batch as batch_sql
from annotation_insights.store.duckdb_statements import statement

_calls = threading.Condition()  # guards everything below
_idle: list[duckdb.DuckDBPyConnection] = []  # cursors no call is using
_running = 0
_closing = False


def _open() -> duckdb.DuckDBPyConnection:
    database = duckdb.connect(":memory:", config={"memory_limit": "512MB"})
    for macro in batch_sql.ENGINE_MACROS:
        database.execute(macro)
    return database


_database = _open()


def run(sql: str, params: dict[str, Any] | None = None, **relations: pa.Table) -> pa.Table:
    """Run one statement over the given Arrow tables (joinable by their keyword names)."""
    global _running
    with _calls:
        if _closing:
            raise RuntimeError("the process is exiting")
        # A cursor per concurrent call, kept here rather than by the calling thread: a
        # DuckDB connection released by a thread that ends while the interpreter exits
        # aborts the process, so every cursor is closed by `_close` below instead.
        cursor = _idle.pop() if _idle else _database.cursor()
        _running += 1
    try:
        for name, table in relations.items():
            cursor.register(name, table)
        try:
            return cursor.sql(statement(sql), params=params or None).to_arrow_table()
        finally:
            for name in relations:
                cursor.unregister(name)
    finally:
        with _calls:
            _idle.append(cursor)
            _running -= 1
            _calls.notify_all()


@atexit.register
def _close() -> None:
    """A daemon thread (a request or import thread) still inside DuckDB when the
    interpreter finalizes is stopped in the middle of C++ code, which aborts the whole
    process; so at exit new calls are refused, running ones are waited for, and the
    engine is closed while the interpreter is whole."""
    global _closing
    with _calls:
        _closing = True
        if not _calls.wait_for(lambda: _running == 0, timeout=30):
            return
        for cursor in _idle:
            cursor.close()
        _idle.clear()
        _database.close()
