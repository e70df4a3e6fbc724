"""Graceful shutdown (issue 7.1): SIGTERM finishes the requests in flight, then exits 0.

Three batches are half uploaded when SIGTERM arrives; the rest of each body follows
after the signal. Each must still be read, answered 200 and stored, the process must
exit with code 0 only then, and a request after that must find the port closed.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
import time

import httpx
import pytest

from annotation_insights.demo.generator import generate_events, spec_for_event_count
from annotation_insights.store import open_database
from annotation_insights.tenancy.keys import create_key
from annotation_insights.tenancy.workspaces import create_workspace
from reliability.harness import ServerProcess

BATCHES, BATCH = 3, 4_000


def test_sigterm_finishes_in_flight_requests_then_exits_cleanly(database_url, tmp_path):
    events = list(generate_events(spec_for_event_count(BATCHES * BATCH, end=dt.date(2026, 6, 30))))
    batches = [events[i::BATCHES] for i in range(BATCHES)]
    with open_database(database_url) as db:
        key = create_key(db, create_workspace(db, "drain"), ["write"]).key
    server = ServerProcess(database_url, tmp_path / "server.log")
    server.start()
    gate = threading.Event()
    half_sent = [threading.Event() for _ in batches]
    answers: list[tuple[int, float]] = []

    def body(batch: list[dict], sent: threading.Event):
        """Half the body, then wait: the request is certainly in flight when SIGTERM comes."""
        data = json.dumps(batch).encode()
        yield data[:len(data) // 2]
        sent.set()
        gate.wait(timeout=60)
        yield data[len(data) // 2:]

    def send(batch: list[dict], sent: threading.Event) -> None:
        response = httpx.post(f"{server.url}/drain/events", content=body(batch, sent), timeout=120,
                              headers={"Authorization": f"Bearer {key}",
                                       "Content-Type": "application/json"})
        answers.append((response.status_code, time.monotonic()))

    threads = [threading.Thread(target=send, args=(b, e)) for b, e in zip(batches, half_sent)]
    try:
        for t in threads:
            t.start()
        assert all(e.wait(timeout=30) for e in half_sent)
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.5)
        assert server.proc.poll() is None, "the server exited with requests in flight"
        gate.set()
        exit_code = server.proc.wait(timeout=120)
        for t in threads:
            t.join(timeout=120)
    finally:
        gate.set()
        server.kill()
    assert exit_code == 0
    assert sorted(status for status, _ in answers) == [200] * BATCHES
    assert all(at > signalled for _, at in answers)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health", timeout=2)
    sent = {e["id"] for b in batches for e in b}
    with open_database(database_url) as db:
        stored = {row[0] for row in db.read("SELECT event_id FROM events")}
    assert stored == sent
    assert key not in server.log()
