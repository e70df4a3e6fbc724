"""The versioned schema: created on first open, kept on reopen, newer versions refused."""

from __future__ import annotations

import pytest

from annotation_insights.errors import StoreUnavailable
from annotation_insights.store import open_database
from annotation_insights.store.migrations import LATEST_VERSION
from annotation_insights.tenancy.workspaces import create_workspace, get_workspace


def test_reopening_keeps_data_and_version(database_url):
    with open_database(database_url) as db:
        create_workspace(db, "kept", timezone="Asia/Kolkata")
    with open_database(database_url) as db:
        assert get_workspace(db, "kept").timezone == "Asia/Kolkata"
        assert db.read("SELECT max(version), count(*) FROM schema_version")[0] == (
            LATEST_VERSION, LATEST_VERSION)


def test_database_from_newer_release_is_refused(database_url):
    with open_database(database_url) as db:
        with db.transaction() as tx:
            tx.execute("INSERT INTO schema_version VALUES (:v)", {"v": LATEST_VERSION + 1})
    with pytest.raises(StoreUnavailable, match=f"schema version {LATEST_VERSION + 1}, newer"):
        open_database(database_url)
