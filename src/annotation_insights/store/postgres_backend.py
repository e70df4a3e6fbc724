"""PostgreSQL: several API processes share one store.

Each write transaction takes a transaction-scoped advisory lock on its workspace, so
rollup maintenance for one workspace is serialised across processes while different
workspaces ingest in parallel. Reads use pooled connections with a statement timeout.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from annotation_insights.errors import StoreUnavailable
from annotation_insights.store.database import Columns, Database, Params, Reader, Transaction
from annotation_insights.store import queries
from annotation_insights.store.dialect import POSTGRESQL

if TYPE_CHECKING:
    from annotation_insights.events.batch import EventBatch

_ANALYZE_AT = 1_000
_ADVISORY_NAMESPACE = 0x41490000  # "AI": keeps our advisory locks apart from other apps'


class PostgresTransaction(Transaction):
    def __init__(self, conn: psycopg.Connection, known_names: set) -> None:
        super().__init__(known_names)
        self._conn = conn

    def execute(self, sql: str, params: Params | None = None) -> list[tuple]:
        with self._conn.cursor() as cur:
            cur.execute(POSTGRESQL.bind(sql), params or {})
            return cur.fetchall() if cur.description else []

    def stage_table(self, name: str, columns: Columns, table: pa.Table) -> None:
        columns_sql = pgsql.SQL(", ").join(
            pgsql.SQL("{} {}").format(pgsql.Identifier(col), pgsql.SQL(kind)) for col, kind in columns)
        with self._conn.cursor() as cur:
            cur.execute(pgsql.SQL("DROP TABLE IF EXISTS {}").format(pgsql.Identifier(name)))
            cur.execute(pgsql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
                pgsql.Identifier(name), columns_sql))
            values = [table.column(col).to_pylist() for col, _ in columns]
            with cur.copy(pgsql.SQL("COPY {} FROM STDIN").format(pgsql.Identifier(name))) as copy:
                for row in zip(*values):
                    copy.write_row(row)
            if table.num_rows >= _ANALYZE_AT:
                # Without statistics the planner guesses a temporary table's size and
                # may join a large staged batch by nested loops (minutes for an import block).
                cur.execute(pgsql.SQL("ANALYZE {}").format(pgsql.Identifier(name)))

    def insert_new_events(self, workspace_id: int, batch: "EventBatch") -> np.ndarray:
        self.stage_table("stage_events", queries.STAGE_EVENTS, batch.table)
        stored = [row[0] for row in self.execute(queries.INSERT_NEW_EVENTS, {"workspace_id": workspace_id})]
        new = pc.is_in(batch.table.column("event_id"), value_set=pa.array(stored, type=pa.string()))
        return new.to_numpy(zero_copy_only=False)

    def update_statistics(self, tables: Sequence[str]) -> None:
        # Autovacuum analyzes only after the commit; within a large import block the
        # planner would otherwise take the fact tables for empty and join by nested loops.
        with self._conn.cursor() as cur:
            for table in tables:
                cur.execute(pgsql.SQL("ANALYZE {}").format(pgsql.Identifier(table)))

    def lock_workspace(self, workspace_id: int) -> None:
        self.execute("SELECT pg_advisory_xact_lock(:ns, :ws)",
                     {"ns": _ADVISORY_NAMESPACE, "ws": workspace_id})


class _ConnectionReader(Reader):
    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def read(self, sql: str, params: Params | None = None) -> list[tuple]:
        with self._conn.cursor() as cur:
            cur.execute(POSTGRESQL.bind(sql), params or {})
            return cur.fetchall()


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
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield _ConnectionReader(conn)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._pool.connection() as conn:
            with conn.transaction():
                tx = PostgresTransaction(conn, self.known_names)
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
