"""A store shared by one test module, so a module can start one server and query it many ways."""

from __future__ import annotations

import itertools
import os

import psycopg
import pytest

_counter = itertools.count()


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def module_database(request, tmp_path_factory, postgres_admin_url):
    """(database path or URL, scratch directory) of a fresh store, once per module and backend."""
    workdir = tmp_path_factory.mktemp(f"cli-{request.param}")
    if request.param == "duckdb":
        yield str(workdir / "insights.duckdb"), workdir
        return
    if postgres_admin_url is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI but no server could be started")
        pytest.skip("no PostgreSQL server binaries on this machine")
    name = f"ai_cli_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{postgres_admin_url.rpartition('/')[0]}/{name}", workdir
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
