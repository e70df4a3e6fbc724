"""Fixtures for the HTTP contract tests (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

import pytest

from conftest import Tenant, make_tenant


@pytest.fixture
def other(db, tenant) -> Tenant:
    """A second workspace, "other", next to the `tenant` fixture's "acme"."""
    return make_tenant(db, "other")
