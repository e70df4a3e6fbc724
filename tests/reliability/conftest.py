"""Fixtures for the reliability tests: a second, empty store on the other backend."""

from __future__ import annotations

import pytest

from support.postgres import scratch_database


@pytest.fixture
def other_backend_url(database_url, tmp_path, postgres_admin_url):
    """An empty store on the backend `database_url` is not on (for cross-backend restores)."""
    if not database_url.startswith("postgresql"):
        with scratch_database(postgres_admin_url, "ai_rel") as url:
            yield url
        return
    yield str(tmp_path / "other.duckdb")
