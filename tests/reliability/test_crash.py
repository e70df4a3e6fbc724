"""Crash safety (issue 7.1): SIGKILL at random moments during ingest loses and doubles nothing.

Three clients send overlapping windows of one event stream (one window reversed, batches
shuffled) and re-send every batch not acknowledged with 200, as SPEC §3 tells clients to.
The server is killed with SIGKILL 4 times at random moments (random points of the
stream's progress, plus a random delay) and restarted. At every crash
point, before the restart, the store is opened directly and must hold every event
acknowledged so far exactly once, with rollups equal to the reference model's answer
over the events it holds (a half-applied batch would show up there). At the end the
served stats must equal the reference over everything sent.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from dataclasses import dataclass, field

import httpx

from annotation_insights.demo.generator import generate_events, spec_for_event_count
from annotation_insights.store import open_database
from annotation_insights.tenancy.keys import create_key
from annotation_insights.tenancy.workspaces import create_workspace
from reliability.harness import (
    ServerProcess, assert_same_stats, backend_name, consistent_events, expected_stats)

UNIQUE, WINDOW, BATCH, CLIENTS, KILLS = 24_000, 14_000, 200, 3, 4
RANGE = ("2026-01-01", "2026-12-31")
DEADLINE_SECONDS = 150


@dataclass
class Client:
    batches: list[list[dict]]
    acked: list[str] = field(default_factory=list)
    acked_batches: int = 0
    sent: int = 0
    retries: int = 0
    interrupted: int = 0  # requests cut off by a kill (not merely refused while it was down)
    unexpected: list[tuple[int, str]] = field(default_factory=list)
    done: bool = False


def run_client(url: str, key: str, client: Client, lock: threading.Lock, stop: float) -> None:
    with httpx.Client(base_url=url, timeout=15, headers={"Authorization": f"Bearer {key}"}) as http:
        for batch in client.batches:
            while time.monotonic() < stop:
                client.sent += 1
                try:
                    response = http.post("/crash/events", json=batch)
                except httpx.ConnectError:
                    response = None
                except httpx.TransportError:
                    response = None
                    client.interrupted += 1
                if response is not None and response.status_code == 200:
                    with lock:
                        client.acked.extend(e["id"] for e in batch)
                        client.acked_batches += 1
                    break
                if response is not None and response.status_code not in (429, 503):
                    client.unexpected.append((response.status_code, response.text[:200]))
                client.retries += 1
                time.sleep(0.05)
    client.done = True


def check_crash_point(database_url: str, acked: set[str]) -> int:
    """Every acknowledged event once, and rollups that agree with the raw events."""
    ids = {e["id"] for e in consistent_events(database_url, "crash", *RANGE)}
    missing = acked - ids
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
    return len(ids)


def test_sigkill_during_ingest_loses_and_doubles_nothing(database_url, tmp_path):
    rng = random.Random(20261129)
    events = list(generate_events(spec_for_event_count(UNIQUE, end=dt.date(2026, 6, 30))))
    with open_database(database_url) as db:
        workspace = create_workspace(db, "crash")
        key = create_key(db, workspace, ["write"]).key
        read_key = create_key(db, workspace, ["read"]).key
    n = len(events)
    clients = []
    for i in range(CLIENTS):
        window = [events[(i * n // CLIENTS + j) % n] for j in range(WINDOW)]
        if i == 1:
            window.reverse()
        batches = [window[s:s + BATCH] for s in range(0, len(window), BATCH)]
        rng.shuffle(batches)
        clients.append(Client(batches))
    server = ServerProcess(database_url, tmp_path / "server.log")
    server.start()
    lock = threading.Lock()
    stop = time.monotonic() + DEADLINE_SECONDS
    threads = [threading.Thread(target=run_client, args=(server.url, key, c, lock, stop), daemon=True)
               for c in clients]
    kills_during_ingest, stored_at_kill = 0, []
    try:
        for t in threads:
            t.start()
        # Kill at random points of the stream's progress (so every kill lands during
        # ingest, however fast this machine is), each at a random moment within a
        # request's handling (a 200-event batch takes milliseconds to a few tens).
        total = sum(len(c.batches) for c in clients)
        for threshold in sorted(rng.uniform(0.1, 0.8) for _ in range(KILLS)):
            while sum(c.acked_batches for c in clients) < threshold * total and time.monotonic() < stop:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.05))
            kills_during_ingest += not all(c.done for c in clients)
            server.kill()
            with lock:
                acked = {i for c in clients for i in c.acked}
            stored_at_kill.append(check_crash_point(database_url, acked))
            server.start()
        for t in threads:
            t.join(timeout=max(1.0, stop - time.monotonic()))
        assert all(c.done for c in clients), "clients did not finish before the deadline"
        answer = httpx.get(f"{server.url}/crash/stats", timeout=60, params={
            "api_key": read_key, "startDate": RANGE[0], "endDate": RANGE[1]}).json()
        assert server.terminate() == 0
    finally:
        server.kill()
    assert kills_during_ingest == KILLS, "a kill came after the clients had finished"
    assert stored_at_kill == sorted(stored_at_kill)
    assert all(not c.unexpected for c in clients), [c.unexpected[:3] for c in clients]
    sent = {e["id"] for c in clients for b in c.batches for e in b}
    acked = [i for c in clients for i in c.acked]
    assert set(acked) == sent
    assert sum(c.interrupted for c in clients) >= 1  # a kill cut a request mid-flight
    assert_same_stats(answer, expected_stats([e for e in events if e["id"] in sent], "UTC", *RANGE))
    with open_database(database_url) as db:
        count, distinct = db.read("SELECT count(*), count(DISTINCT event_id) FROM events")[0]
    assert count == distinct == len(sent)
    print(f"\ncrash[{backend_name(database_url)}]: {KILLS} SIGKILLs survived, {len(sent)} events, "
          f"{len(acked)} acknowledgements, {sum(c.sent for c in clients)} requests, "
          f"{sum(c.interrupted for c in clients)} cut mid-request, {sum(c.retries for c in clients)} "
          f"retries; lost 0, doubled 0; stored at each kill: "
          f"{stored_at_kill}")
