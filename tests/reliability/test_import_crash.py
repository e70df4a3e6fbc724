"""A bulk import killed with SIGKILL and run again loses and doubles nothing.

An import writes blocks larger than a DuckDB row group straight into the file before
their commit (a bulk load, `store/duckdb_backend.py`), so a kill can land while a block
is half written. The file is imported whole once, to learn the size of the store it
makes, then into a second store, killed twice once that file has grown to a random
fraction of it. After each kill the store must open and hold whole blocks only: every
stored event once, and rollups equal to the reference model's answer over exactly the
stored events. The import then runs again, resumes after its last committed block, and
must end with the same events and answer as the uninterrupted import.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from annotation_insights.demo.generator import generate_events, spec_for_event_count
from annotation_insights.store import open_database
from annotation_insights.tenancy.workspaces import create_workspace, get_workspace
from reliability.harness import (
    assert_same_stats, consistent_events, engine_stats, expected_stats, stored_ids)

EVENTS = 700_000  # one block of ~340,000 events: larger than a row group (122,880)
RANGE = ("2025-01-01", "2026-12-31")


def _import(database: str, path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "annotation_insights", "--database", database, "import", str(path),
         "--workspace", "bulk"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "NO_COLOR": "1"})


@pytest.mark.backends("duckdb")
def test_sigkill_during_a_bulk_import_then_running_it_again_loses_and_doubles_nothing(tmp_path):
    rng = random.Random(20261130)
    events = list(generate_events(spec_for_event_count(EVENTS, end=dt.date(2026, 6, 30))))
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    whole, killed = str(tmp_path / "whole.duckdb"), str(tmp_path / "killed.duckdb")
    for database in (whole, killed):
        with open_database(database) as db:
            create_workspace(db, "bulk")

    output, _ = _import(whole, path).communicate(timeout=300)
    assert f"{len(events):,} new" in output, output
    size = os.path.getsize(whole)

    stored_after_kills = []
    for fraction in (rng.uniform(0.2, 0.4), rng.uniform(0.5, 0.7)):
        # Killed once the file has grown to a fraction of the whole import's: during the
        # import's writes, however fast this machine is.
        process = _import(killed, path)
        while process.poll() is None and os.path.getsize(killed) < fraction * size:
            time.sleep(0.002)
        assert process.poll() is None, "the import finished before the kill"
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        stored_after_kills.append(len(consistent_events(killed, "bulk", *RANGE)))
    assert 0 < stored_after_kills[0] <= stored_after_kills[1] < len(events)

    output, _ = _import(killed, path).communicate(timeout=300)
    assert "resumed after row" in output, output
    resumed, uninterrupted = _ids_and_answer(killed), _ids_and_answer(whole)
    assert resumed[0] == sorted(e["id"] for e in events)
    assert resumed == uninterrupted
    assert_same_stats(uninterrupted[1], expected_stats(events, "UTC", *RANGE))


def _ids_and_answer(database: str) -> tuple[list[str], dict]:
    with open_database(database) as db:
        workspace = get_workspace(db, "bulk")
        return stored_ids(db, workspace), engine_stats(db, workspace, *RANGE)
