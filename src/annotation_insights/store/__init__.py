"""Storage: one interface (`Database`), an embedded DuckDB and a PostgreSQL backend."""

from __future__ import annotations

from annotation_insights.settings import DUCKDB_MEMORY_LIMIT, Settings
from annotation_insights.store.database import Database


def open_database(database: str, *, migrate: bool = True, pool_size: int = 8,
                  statement_timeout_ms: int = 30_000, duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT,
                  bulk_load: bool = False) -> Database:
    """Open the store named by a file path (DuckDB) or a postgresql:// URL; `bulk_load`
    for a process that writes large blocks (a file import; DuckDB only)."""
    if database.startswith(("postgresql://", "postgres://")):
        from annotation_insights.store.postgres_backend import PostgresDatabase

        db: Database = PostgresDatabase(database, pool_size=pool_size,
                                        statement_timeout_ms=statement_timeout_ms)
    else:
        from annotation_insights.store.duckdb_backend import DuckDBDatabase

        db = DuckDBDatabase(database, memory_limit=duckdb_memory_limit, bulk_load=bulk_load)
    if migrate:
        try:
            db.migrate()
        except BaseException:
            db.close()
            raise
        from annotation_insights.events.backlog import attach

        attach(db)
    return db


def open_configured(settings: "Settings", *, bulk_load: bool = False) -> Database:
    """Open the store the settings name, with their pool, timeout and memory limits."""
    memory_limit = settings.duckdb_import_memory_limit if bulk_load else settings.duckdb_memory_limit
    return open_database(settings.database, pool_size=settings.pool_size,
                         statement_timeout_ms=settings.statement_timeout_ms,
                         duckdb_memory_limit=memory_limit, bulk_load=bulk_load)


__all__ = ["Database", "open_configured", "open_database"]
