"""Fixtures: every store-backed test runs on real DuckDB and on real PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from annotation_insights.api.app import create_app
from annotation_insights.settings import Settings
from annotation_insights.store import open_database
from annotation_insights.tenancy.keys import create_key
from annotation_insights.tenancy.workspaces import Workspace, create_workspace
from support.postgres import postgres_server, scratch_database



@pytest.fixture(scope="session")
def postgres_admin_url():
    with postgres_server() as url:
        yield url


@pytest.fixture
def database_url(request, tmp_path, postgres_admin_url):
    """A fresh, empty database of the backend the test is parametrised with."""
    backend = getattr(request, "param", "duckdb")
    if backend == "duckdb":
        yield str(tmp_path / "insights.duckdb")
        return
    with scratch_database(postgres_admin_url, "ai_test") as url:
        yield url


BACKENDS = ("duckdb", "postgresql")


def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names): run only on these store backends")


def pytest_generate_tests(metafunc):
    if "database_url" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("database_url", marker.args if marker else BACKENDS, indirect=True)


@pytest.fixture
def db(database_url):
    database = open_database(database_url)
    yield database
    database.close()


@dataclass
class Tenant:
    workspace: Workspace
    read: str
    write: str
    admin: str
    all: str


def make_tenant(db, slug: str, timezone: str = "UTC") -> Tenant:
    ws = create_workspace(db, slug, timezone=timezone)
    return Tenant(ws, create_key(db, ws, ["read"]).key, create_key(db, ws, ["write"]).key,
                  create_key(db, ws, ["admin"]).key, create_key(db, ws).key)


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant(db, "acme")


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(database=database_url)


@pytest.fixture
def client(db, settings):
    with TestClient(create_app(settings, db)) as test_client:
        yield test_client
