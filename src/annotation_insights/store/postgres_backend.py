"""PostgreSQL: several API processes share one store.

Each write transaction takes a transaction-scoped advisory lock on its workspace, so
rollup maintenance for one workspace is serialised across processes while different
workspaces ingest in parallel. Reads use pooled connections with a statement timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from annotation_insights.errors import StoreUnavailable
from annotation_insights.store.database import Columns, Database, Params, Reader, Transaction
from annotation_insights.store.queries import ingest as ingest_sql
from annotation_insights.store.dialect import POSTGRESQL

if TYPE_CHECKING:
    from annotation_insights.events.batch import EventBatch

# Rows from which the planner's guess of a table's size matters: a staged batch this
# large is analyzed before it is joined, and a stored table once this many were added
# (and a tenth of what it held, `_Statistics`).
_ANALYZE_AT = 1_000
_ADVISORY_NAMESPACE = 0x41490000  # "AI": keeps our advisory locks apart from other apps'


class _Statistics:
    """When this process refreshes the planner's statistics of a table it writes to.
    Autovacuum analyzes a table about a minute after a tenth of it changed; until then the
    planner takes a fast-growing fact table for the rows it last counted, and joins a
    batch's merges with it by nested loops (an HTTP batch's merge of (session, annotation)
    facts 0.6 s instead of ~2 ms at 200,000 events). So a table is analyzed in the write
    that brings what this process added since its last count to a tenth of that count,
    and at least `_ANALYZE_AT`: after every batch while the table is small, then ever
    more rarely (an HTTP-loaded 1M-event store: ~40 times)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._added: dict[str, int] = {}
        self._counted: dict[str, int] = {}

    def due(self, added: Mapping[str, int]) -> list[str]:
        with self._lock:
            for table, rows in added.items():
                self._added[table] = self._added.get(table, 0) + rows
            return [table for table in added
                    if self._added[table] >= max(_ANALYZE_AT, self._counted.get(table, 0) // 10)]

    def counted(self, table: str, rows: int) -> None:
        """`table` held `rows` when its statistics committed: count what is added anew."""
        with self._lock:
            self._added[table], self._counted[table] = 0, rows


class PostgresTransaction(Transaction):
    dialect = POSTGRESQL

    def __init__(self, conn: psycopg.Connection, known_names: set, statistics: _Statistics) -> None:
        super().__init__(known_names)
        self._conn = conn
        self._statistics = statistics
        self._staged: set[str] = set()

    def execute(self, sql: str, params: Params | None = None) -> list[tuple]:
        with self._conn.cursor() as cur:
            cur.execute(POSTGRESQL.bind(sql), params or {})
            return cur.fetchall() if cur.description else []

    def stage_table(self, name: str, columns: Columns, table: pa.Table) -> None:
        self._stage(name, columns, table, analyze=table.num_rows >= _ANALYZE_AT)

    def _stage(self, name: str, columns: Columns, table: pa.Table, *, analyze: bool) -> None:
        columns_sql = pgsql.SQL(", ").join(
            pgsql.SQL("{} {}").format(pgsql.Identifier(col), pgsql.SQL(kind)) for col, kind in columns)
        with self._conn.cursor() as cur:
            self._empty_temp_table(cur, name, pgsql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS").format(
                pgsql.Identifier(name), columns_sql))
            with cur.copy(pgsql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(pgsql.Identifier(name))) as copy:
                copy.write(_csv(table, columns))
            if analyze:
                _analyze(cur, name)

    def stage_query(self, name: str, sql: str, params: Params | None = None) -> None:
        query = pgsql.SQL(POSTGRESQL.bind(sql))
        with self._conn.cursor() as cur:
            self._empty_temp_table(cur, name, pgsql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS {} WITH NO DATA").format(
                pgsql.Identifier(name), query), params)
            cur.execute(pgsql.SQL("INSERT INTO {} ").format(pgsql.Identifier(name)) + query, params or {})
            if cur.rowcount >= _ANALYZE_AT:
                _analyze(cur, name)

    def _empty_temp_table(self, cur: psycopg.Cursor, name: str, create: pgsql.Composable,
                          params: Params | None = None) -> None:
        """A staged relation is a temporary table the connection keeps, emptied at each
        commit: creating and dropping one per transaction wrote the system catalogs each
        time, some 5 ms a relation, most of a one-annotation webhook's time in the store.
        Staging a name again in one transaction replaces its rows."""
        if name in self._staged:
            cur.execute(pgsql.SQL("TRUNCATE {}").format(pgsql.Identifier(name)))
            return
        cur.execute(create, params or {})
        self._staged.add(name)

    def insert_new_events(self, workspace_id: int, batch: "EventBatch",
                          backlog_batch: int | None = None) -> np.ndarray:
        # Rollups are applied with the events here (no backlog), so `backlog_batch` is None.
        # The events' insert joins nothing, so their statistics (12 ms for 5,000) serve no plan.
        self._stage("stage_events", ingest_sql.STAGE_EVENTS, batch.table, analyze=False)
        inserted = self.execute(ingest_sql.INSERT_NEW_EVENTS, {"workspace_id": workspace_id})
        stored = [row[0] for row in inserted]
        new = pc.is_in(batch.table.column("event_id"), value_set=pa.array(stored, type=pa.string()))
        return new.to_numpy(zero_copy_only=False)

    def update_statistics(self, added: Mapping[str, int]) -> None:
        with self._conn.cursor() as cur:
            for table in self._statistics.due(added):
                cur.execute(pgsql.SQL("ANALYZE {}").format(pgsql.Identifier(table)))
                cur.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (table,))
                rows = max(0, int(cur.fetchone()[0]))
                self.after_commit(lambda table=table, rows=rows: self._statistics.counted(table, rows))

    def lock_workspace(self, workspace_id: int) -> None:
        self.execute("SELECT pg_advisory_xact_lock(:ns, :ws)",
                     {"ns": _ADVISORY_NAMESPACE, "ws": workspace_id})


def _analyze(cur: psycopg.Cursor, name: str) -> None:
    # Without statistics the planner guesses a temporary table's size and may join a
    # large staged batch by nested loops (minutes for an import block).
    cur.execute(pgsql.SQL("ANALYZE {}").format(pgsql.Identifier(name)))


def _csv(table: pa.Table, columns: Columns) -> pa.Buffer:
    """The staged columns as the CSV that `COPY` reads, written by Arrow: a null is an
    empty field, every text is quoted (so an empty one is `""`), UUIDs as 32 hex digits.
    Writing the rows one by one from Python cost more than the statements they feed."""
    arrays = [_uuid_text(table.column(col)) if kind == "UUID" else table.column(col)
              for col, kind in columns]
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(pa.table(arrays, names=[col for col, _ in columns]), sink, _CSV_OPTIONS)
    return sink.getvalue()


_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False)
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)


def _uuid_text(column: pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A column of 16-byte UUIDs as text PostgreSQL reads as UUIDs (text stays as it is)."""
    values = column.combine_chunks()
    if isinstance(values, pa.ExtensionArray):
        values = values.storage
    if not (pa.types.is_fixed_size_binary(values.type) and values.type.byte_width == 16):
        return column
    count = len(values)
    octets = np.frombuffer(values.buffers()[1], np.uint8)[values.offset * 16:(values.offset + count) * 16]
    digits = np.stack([_HEX_DIGITS[octets >> 4], _HEX_DIGITS[octets & 15]], axis=1)
    offsets = np.arange(0, 32 * count + 1, 32, dtype=np.int32)
    text = pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(digits.tobytes()))
    return pc.if_else(pc.is_valid(values), text, pa.nulls(count, pa.string())) if values.null_count else text


class _ConnectionReader(Reader):
    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def read(self, sql: str, params: Params | None = None) -> list[tuple]:
        with self._conn.cursor() as cur:
            cur.execute(POSTGRESQL.bind(sql), params or {})
            return cur.fetchall()

    def stream(self, sql: str, schema: pa.Schema, batch_rows: int) -> Iterator[pa.Table]:
        # A server-side cursor: the rows stay in the server until fetched.
        with self._conn.cursor(name="stream") as cur:
            cur.execute(POSTGRESQL.bind(sql))
            while rows := cur.fetchmany(batch_rows):
                yield pa.table([pa.array(values, type=field.type) for field, values in zip(schema, zip(*rows))],
                               schema=schema)


class PostgresDatabase(Database):
    dialect = POSTGRESQL

    def __init__(self, url: str, *, pool_size: int = 8, statement_timeout_ms: int = 30_000) -> None:
        try:
            self.description = _redact(url)
        except psycopg.ProgrammingError:
            # psycopg's message quotes the URL, and with it possibly the password.
            raise StoreUnavailable("The PostgreSQL URL is malformed; expected "
                                   "postgresql://USER:PASSWORD@HOST:PORT/DATABASE.") from None
        self.known_names: set = set()
        self._statistics = _Statistics()
        options = f"-c statement_timeout={int(statement_timeout_ms)}"
        try:  # one direct attempt first: a clear error now instead of the pool's retries
            psycopg.connect(url, connect_timeout=10, options=options).close()
        except psycopg.Error as exc:
            raise StoreUnavailable(f"Cannot connect to PostgreSQL at {self.description}: "
                                   f"{_first_line(exc)}") from None
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False,
                                    kwargs={"options": options, "autocommit": True})
        self._pool.open(wait=True, timeout=30)

    def read(self, sql: str, params: Params | None = None) -> list[tuple]:
        with self._pool.connection() as conn:
            return _ConnectionReader(conn).read(sql, params)

    @contextmanager
    def snapshot(self) -> Iterator[Reader]:
        with self._pool.connection() as conn, conn.transaction():
            # An answer's statement is planned for its values: psycopg prepares a statement
            # run five times, and PostgreSQL's generic plan for it (no range, no filter
            # known) then read a year's answer at 10M events in 164 ms instead of 35. And
            # on one core: starting parallel workers cost a 7-day answer 2.4 -> 6.8 ms and
            # saved a year's 47 -> 37, while the other core serves the next request.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
                         "SET LOCAL plan_cache_mode = force_custom_plan; "
                         "SET LOCAL max_parallel_workers_per_gather = 0")
            yield _ConnectionReader(conn)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._pool.connection() as conn:
            with conn.transaction():
                tx = PostgresTransaction(conn, self.known_names, self._statistics)
                yield tx
            tx.committed()

    def close(self) -> None:
        self._pool.close()


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _redact(url: str) -> str:
    """A URL fit for messages: the password never leaves the process."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
