"""Storage: one interface (`Database`), an embedded DuckDB and a PostgreSQL backend."""

from __future__ import annotations

from annotation_insights.store.database import Database


def open_database(database: str, *, migrate: bool = True, pool_size: int = 8,
                  statement_timeout_ms: int = 30_000) -> Database:
    """Open the store named by a file path (DuckDB) or a postgresql:// URL."""
    if database.startswith(("postgresql://", "postgres://")):
        from annotation_insights.store.postgres_backend import PostgresDatabase

        db: Database = PostgresDatabase(database, pool_size=pool_size,
                                        statement_timeout_ms=statement_timeout_ms)
    else:
        from annotation_insights.store.duckdb_backend import DuckDBDatabase

        db = DuckDBDatabase(database)
    if migrate:
        try:
            db.migrate()
        except BaseException:
            db.close()
            raise
    return db


__all__ = ["Database", "open_database"]
