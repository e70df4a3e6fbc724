"""Real servers and ground truth for the reliability tests.

`ServerProcess` runs `python -m annotation_insights --database X serve` exactly as an
operator would, so SIGKILL and SIGTERM hit the real process. `stored_events` reads the
raw events back as SPEC §3 dicts, so the slow reference model can recompute what the
rollups must say.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy

from annotation_insights.metrics.query import StatsQuery, run_stats
from annotation_insights.store import open_database
from annotation_insights.store.database import Database
from annotation_insights.tenancy.workspaces import Workspace, get_workspace
from support.reference_model import reference_stats
from support.servers import free_port, wait_healthy

_EVENT_COLUMNS = ("id", "type", "time", "project", "image", "labeler", "annotation", "session",
                  "modelAssisted", "reviewer", "class")


class ServerProcess:
    """One `annotation-insights serve` process; restartable on the same port."""

    def __init__(self, database: str, log_path: Path, *, env: dict[str, str] | None = None,
                 port: int | None = None) -> None:
        self.database = database
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.env.pop("ANNOTATION_INSIGHTS_DATABASE", None)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 40) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "annotation_insights", "--database", self.database, "serve",
                 "--port", str(self.port)], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(self.url, timeout=timeout)
        except TimeoutError:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in an OOM kill or a power cut of the process."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 40) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def backend_name(database: str) -> str:
    return "postgresql" if database.startswith(("postgresql://", "postgres://")) else "duckdb"


def _isos(times_us: list[int]) -> list[str]:
    """Instants as SPEC §3 times, all at once: a crash test reads back ~10^6 events."""
    texts = numpy.datetime_as_string(numpy.array(times_us, dtype="datetime64[us]"), unit="us")
    return [f"{text}Z" for text in texts.tolist()]


def stored_ids(db: Database, workspace: Workspace) -> list[str]:
    rows = db.read("SELECT event_id FROM events WHERE workspace_id = :w ORDER BY event_id",
                   {"w": workspace.id})
    return [row[0] for row in rows]


def stored_events(db: Database, workspace: Workspace) -> list[dict]:
    """The raw events of a workspace as SPEC §3 dicts, in a stable order."""
    rows = db.read("SELECT event_id, type, time_us, project, image, labeler, annotation, session, "
                   "model_assisted, reviewer, class FROM events WHERE workspace_id = :w "
                   "ORDER BY event_id", {"w": workspace.id})
    times = _isos([row[2] for row in rows])
    return [{k: v for k, v in zip(_EVENT_COLUMNS, (*row[:2], time, *row[3:])) if v is not None}
            for row, time in zip(rows, times)]


def engine_stats(db: Database, workspace: Workspace, start: str, end: str, *,
                 availability: dt.date = dt.date(2000, 1, 1)) -> dict:
    query = StatsQuery.parse(start=start, end=end, availability=availability)
    return run_stats(db, workspace, query)


def expected_stats(events: list[dict], timezone: str, start: str, end: str) -> dict:
    return reference_stats(events, timezone=timezone, start=dt.date.fromisoformat(start),
                           end=dt.date.fromisoformat(end))


def assert_same_stats(answer: dict, expected: dict) -> None:
    """The engine's answer carries more columns (names, ids); the reference's must all match."""
    assert answer["stats"] == expected["stats"]
    assert len(answer["data"]) == len(expected["data"])
    columns = expected["data"][0].keys() if expected["data"] else ()
    assert [{k: row[k] for k in columns} for row in answer["data"]] == expected["data"]


def consistent_events(database: str, workspace_slug: str, start: str, end: str) -> list[dict]:
    """A store's events after a crash, once it is checked that each is stored once and
    that the rollups equal the reference model's over exactly them (a half-applied batch
    or block would show)."""
    with open_database(database) as db:
        workspace = get_workspace(db, workspace_slug)
        events = stored_events(db, workspace)
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids))
        if events:
            assert_same_stats(engine_stats(db, workspace, start, end),
                              expected_stats(events, workspace.timezone, start, end))
    return events
