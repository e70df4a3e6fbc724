"""Fixtures for the reliability tests: a second, empty store on the other backend."""

from __future__ import annotations

import itertools
import os

import psycopg
import pytest

_counter = itertools.count()


@pytest.fixture
def other_backend_url(database_url, tmp_path, postgres_admin_url):
    """An empty store on the backend `database_url` is not on (for cross-backend restores)."""
    if not database_url.startswith("postgresql"):
        if postgres_admin_url is None:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL is required in CI but no server could be started")
            pytest.skip("no PostgreSQL server binaries on this machine")
        name = f"ai_rel_{os.getpid()}_{next(_counter)}"
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        yield f"{postgres_admin_url.rpartition('/')[0]}/{name}"
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    yield str(tmp_path / "other.duckdb")
