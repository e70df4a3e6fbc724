"""Several API processes on one PostgreSQL, several writers and readers at once (issue 3).

4 writer processes each send 20,000 events with overlapping ids through 2 API processes
(`serve --workers 2`) while 4 reader processes query stats. Afterwards the answer must
equal the reference over the unique events: nothing lost, nothing doubled, no 5xx.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import subprocess
import sys

import httpx
import pytest

from annotation_insights.demo.generator import generate_events, spec_for_event_count
from annotation_insights.store import open_database
from annotation_insights.tenancy.keys import create_key
from annotation_insights.tenancy.workspaces import create_workspace
from support.reference_model import reference_stats
from support.servers import free_port, wait_healthy

WRITERS, READERS, PER_WRITER, BATCH = 4, 4, 20_000, 1_000
UNIQUE = 50_000
RANGE = ("2026-01-01", "2026-12-31")


def _writer(url: str, key: str, events: list[dict], out: mp.Queue) -> None:
    statuses = []
    with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {key}"}) as http:
        for start in range(0, len(events), BATCH):
            r = http.post("/load/events", json=events[start:start + BATCH])
            statuses.append(r.status_code)
    out.put(("writer", statuses))


def _reader(url: str, key: str, stop: mp.Event, out: mp.Queue) -> None:
    statuses = []
    with httpx.Client(base_url=url, timeout=60) as http:
        while not stop.is_set():
            r = http.get("/load/stats", params={"api_key": key, "startDate": RANGE[0], "endDate": RANGE[1]})
            statuses.append(r.status_code)
    out.put(("reader", statuses))


@pytest.mark.backends("postgresql")
def test_two_api_processes_four_writers_four_readers(database_url):
    spec = spec_for_event_count(UNIQUE, projects=3, labelers=12, days=20, end=dt.date(2026, 6, 30))
    events = list(generate_events(spec))
    with open_database(database_url) as db:
        workspace = create_workspace(db, "load")
        write_key = create_key(db, workspace, ["write"]).key
        read_key = create_key(db, workspace, ["read"]).key
    port = free_port()
    env = {**os.environ, "ANNOTATION_INSIGHTS_DATABASE": database_url}
    server = subprocess.Popen([sys.executable, "-m", "annotation_insights", "serve", "--port", str(port),
                               "--workers", "2"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, timeout=30)
        ctx = mp.get_context("spawn")
        out, stop = ctx.Queue(), ctx.Event()
        n = len(events)
        # Writer i sends a window overlapping its neighbours', in its own order.
        windows = [[events[(i * n // WRITERS + j) % n] for j in range(PER_WRITER)] for i in range(WRITERS)]
        for window in windows[1::2]:
            window.reverse()
        writers = [ctx.Process(target=_writer, args=(url, write_key, w, out)) for w in windows]
        readers = [ctx.Process(target=_reader, args=(url, read_key, stop, out)) for _ in range(READERS)]
        for p in readers + writers:
            p.start()
        results = [out.get(timeout=600) for _ in writers]
        stop.set()
        results += [out.get(timeout=120) for _ in readers]
        for p in readers + writers:
            p.join(timeout=30)
        answer = httpx.get(f"{url}/load/stats", params={"api_key": read_key, "startDate": RANGE[0],
                                                        "endDate": RANGE[1]}, timeout=60).json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    statuses = [s for _, batch in results for s in batch]
    assert statuses and set(statuses) == {200}, sorted(set(statuses))
    assert sum(1 for kind, _ in results if kind == "reader") == READERS
    sent = {e["id"] for w in windows for e in w}
    expected = reference_stats([e for e in events if e["id"] in sent], timezone="UTC",
                               start=dt.date.fromisoformat(RANGE[0]), end=dt.date.fromisoformat(RANGE[1]))
    assert answer["stats"] == expected["stats"]
    assert [{k: row[k] for k in expected["data"][0]} for row in answer["data"]] == expected["data"]
    with open_database(database_url) as db:
        stored = db.read("SELECT count(*), count(DISTINCT event_id) FROM events")[0]
    assert stored == (len(sent), len(sent))
