"""The store interface both backends implement.

`Database` is deliberately small: read queries, one write transaction at a time per
workspace, and staging of batches. Everything above it (tenancy, ingest, metrics) is
written once against this interface and the shared SQL in `queries/`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from annotation_insights.store.dialect import Dialect
from annotation_insights.store.migrations import LATEST_VERSION, MIGRATIONS

if TYPE_CHECKING:
    from annotation_insights.events.batch import EventBatch

Params = dict[str, Any]
Columns = Sequence[tuple[str, str]]  # (name, SQL type) of a staged relation
ARROW_TYPES = {"TEXT": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(),
               "BOOLEAN": pa.bool_(), "DATE": pa.date32(), "UUID": pa.string()}
SCHEMA_LOCK = 0  # workspace ids start at 1, so lock 0 is free to guard migrations


class Transaction(abc.ABC):
    """A unit of work that commits only when its `with` block exits cleanly."""

    rollup_backlog: Any = None  # the store's, when it defers rollups (events/backlog.py)
    dialect: Dialect

    def __init__(self, known_names: set) -> None:
        self.known_names = known_names
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)

    def committed(self) -> None:
        for callback in self._after_commit:
            callback()

    @abc.abstractmethod
    def execute(self, sql: str, params: Params | None = None) -> list[tuple]:
        """Run one statement; return its rows (empty for statements without any)."""

    @abc.abstractmethod
    def stage_table(self, name: str, columns: Columns, table: pa.Table) -> None:
        """Make the Arrow table's `columns` joinable as relation `name` until the
        transaction ends."""

    @abc.abstractmethod
    def stage_query(self, name: str, sql: str, params: Params | None = None) -> None:
        """Make a query's result joinable as relation `name` until the transaction ends,
        for statements that would otherwise each compute it again."""

    def stage(self, name: str, columns: Columns, rows: Sequence[tuple]) -> None:
        """`stage_table` for rows of Python values."""
        values = list(zip(*rows)) if rows else [[] for _ in columns]
        self.stage_table(name, columns, pa.table(
            {col: pa.array(column, type=ARROW_TYPES[kind]) for (col, kind), column in zip(columns, values)}))

    @abc.abstractmethod
    def insert_new_events(self, workspace_id: int, batch: "EventBatch",
                          backlog_batch: int | None = None) -> np.ndarray:
        """Store the batch's events whose id is not stored yet; return which rows those
        were (a boolean mask). Events must only ever be written through here. A store
        that defers rollups marks events stored without them by their `backlog_batch`."""

    def update_statistics(self, added: Mapping[str, int]) -> None:
        """Tell the query planner these tables just grew by these many rows (a no-op where
        it does not plan by sampled statistics)."""

    @abc.abstractmethod
    def lock_workspace(self, workspace_id: int) -> None:
        """Serialise writers of one workspace so rollup maintenance never races."""


class Reader(abc.ABC):
    """Read queries that all see one consistent snapshot of the store."""

    @abc.abstractmethod
    def read(self, sql: str, params: Params | None = None) -> list[tuple]: ...

    @abc.abstractmethod
    def stream(self, sql: str, schema: pa.Schema, batch_rows: int) -> Iterator[pa.Table]:
        """One statement's rows as tables of `schema` (its columns, in order), `batch_rows`
        at a time, read as they are consumed: for a whole table, which is too large to
        hold and, without an index on DuckDB, too costly to read in ordered pages."""

    def read_reference(self, sql: str, params: Params | None = None) -> list[tuple]:
        """`read` of workspaces, API keys, projects or labelers, which a store written by
        this process alone answers from memory while they are unchanged
        (`store/reference_cache.py`). The rows are shared: do not change them."""
        return self.read(sql, params)


class Database(Reader):
    """`known_names` remembers (workspace id, project, labeler) triples already stored, so
    ingest skips creating their placeholders; such rows are never deleted, which makes a
    per-process memory of them safe even with several processes."""

    dialect: Dialect
    description: str
    known_names: set
    # A store whose single writer batches rollup maintenance (events/backlog.py) defers
    # it; its backlog is attached by `open_database` and applied before every snapshot.
    defers_rollups = False
    rollup_backlog: Any = None

    @abc.abstractmethod
    def read(self, sql: str, params: Params | None = None) -> list[tuple]:
        """Run a read-only query on a connection of this thread and return all rows."""

    @abc.abstractmethod
    def snapshot(self) -> AbstractContextManager[Reader]:
        """Several reads that must agree with each other (one answer's rows and totals)."""

    def stream(self, sql: str, schema: pa.Schema, batch_rows: int) -> Iterator[pa.Table]:
        with self.snapshot() as reader:
            yield from reader.stream(sql, schema, batch_rows)

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Transaction]:
        """Open a write transaction: durably committed on exit, rolled back on error."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def migrate(self) -> None:
        """Bring the schema to the version this code knows; refuse a newer database."""
        from annotation_insights.errors import StoreUnavailable

        with self.transaction() as tx:
            tx.lock_workspace(SCHEMA_LOCK)
            tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            rows = tx.execute("SELECT max(version) FROM schema_version")
            current = rows[0][0] or 0
            if current > LATEST_VERSION:
                raise StoreUnavailable(
                    f"The database {self.description} has schema version {current}, newer than "
                    f"this annotation-insights knows ({LATEST_VERSION}). Upgrade annotation-insights.")
            for version, statements in _pending(current):
                for statement in statements:
                    sql = self.dialect.applies(statement)
                    if sql is not None:
                        tx.execute(sql)
                tx.execute("INSERT INTO schema_version VALUES (:v)", {"v": version})

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pending(current: int) -> Iterator[tuple[int, list]]:
    return ((v, s) for v, s in MIGRATIONS if v > current)
