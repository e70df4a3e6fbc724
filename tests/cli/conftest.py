"""A store shared by one test module, so a module can start one server and query it many ways."""

from __future__ import annotations

import pytest

from support.postgres import scratch_database


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def module_database(request, tmp_path_factory, postgres_admin_url):
    """(database path or URL, scratch directory) of a fresh store, once per module and backend."""
    workdir = tmp_path_factory.mktemp(f"cli-{request.param}")
    if request.param == "duckdb":
        yield str(workdir / "insights.duckdb"), workdir
        return
    with scratch_database(postgres_admin_url, "ai_cli") as url:
        yield url, workdir
