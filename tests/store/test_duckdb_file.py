"""The DuckDB file: large inserts leave no unused space in it, whether a serving process
writes them through the WAL or a bulk load compresses them straight into the file; and a
file import's process gets memory limits of its own."""

from __future__ import annotations

import duckdb
import pytest

from annotation_insights.settings import Settings
from annotation_insights.store import open_configured, open_database

# An import block of 262,144 events is two full row groups of 122,880 and a part-full
# one: the shape whose runs DuckDB's checkpoint vacuum rewrote, freeing the first copy.
BLOCK = 262_144
INSERT_BLOCK = """INSERT INTO events (workspace_id, event_id, type, time_us, project, image,
                                      labeler, annotation, class)
SELECT 1, 'e' || (:first + i), 'annotation.created', 1700000000000000 + (:first + i) * 1000000,
       'p' || (i % 20), 'img-' || ((:first + i) // 8), 'l' || (i % 200), 'a' || (:first + i), 'box'
FROM range(:rows) AS r(i)"""


@pytest.mark.backends("duckdb")
@pytest.mark.parametrize("bulk_load", [False, True])
def test_large_inserts_leave_no_free_blocks_in_the_file(database_url, bulk_load):
    with open_database(database_url, bulk_load=bulk_load) as db:
        for first in range(0, 4 * BLOCK, BLOCK):
            with db.transaction() as tx:
                tx.execute(INSERT_BLOCK, {"first": first, "rows": BLOCK})
    with duckdb.connect(database_url, read_only=True) as file:
        total, free, wal = file.sql(
            "SELECT total_blocks, free_blocks, wal_size FROM pragma_database_size()").fetchall()[0]
    assert free == 0, f"{free} of {total} blocks of the file are unused"
    assert wal == "0 bytes"


@pytest.mark.backends("duckdb")
def test_a_server_holds_less_in_memory_than_a_file_import(database_url):
    """The server's memory limit keeps its peak under 1.5 GB through a 10M load, and its
    checkpoints stay as far apart as an import's, which keeps a small store's file compact
    (docs/performance.md, step 69); an import's process holds the file alone."""
    settings = {}
    for bulk_load in (False, True):
        with open_configured(Settings(database=database_url), bulk_load=bulk_load) as db:
            settings[bulk_load] = db.read(
                "SELECT current_setting('memory_limit'), current_setting('checkpoint_threshold')")[0]
    assert settings == {False: ("488.2 MiB", "244.1 MiB"), True: ("3.7 GiB", "244.1 MiB")}


@pytest.mark.backends("duckdb")
def test_a_file_import_gets_its_own_memory_limit(database_url, monkeypatch):
    monkeypatch.setenv("ANNOTATION_INSIGHTS_DUCKDB_MEMORY_LIMIT", "700MB")
    settings = Settings(database=database_url)
    limits = {}
    for bulk_load in (False, True):
        with open_configured(settings, bulk_load=bulk_load) as db:
            limits[bulk_load] = db.read("SELECT current_setting('memory_limit')")[0][0]
    assert limits == {False: "667.5 MiB", True: "3.7 GiB"}
    monkeypatch.setenv("ANNOTATION_INSIGHTS_DUCKDB_IMPORT_MEMORY_LIMIT", "2GB")
    with open_configured(Settings(database=database_url), bulk_load=True) as db:
        assert db.read("SELECT current_setting('memory_limit')")[0][0] == "1.8 GiB"
