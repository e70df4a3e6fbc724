"""Overload protection (issue 7.2): 429 and 503 with Retry-After, never a hang or a crash."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest
from fastapi.testclient import TestClient

from annotation_insights.api.app import create_app
from annotation_insights.api.limits import OverloadGuard, Slots, TokenBuckets
from annotation_insights.demo.generator import generate_events, spec_for_event_count
from annotation_insights.settings import Settings
from annotation_insights.store import open_database
from annotation_insights.tenancy.keys import create_key
from annotation_insights.tenancy.workspaces import create_workspace
from api.helpers import ERROR_KEYS, MARCH, bearer
from reliability.harness import ServerProcess, assert_same_stats, expected_stats


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_the_burst_then_the_rate():
    clock = Clock()
    buckets = TokenBuckets(rate=2, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0  # each client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 60
    assert [buckets.take("a") for _ in range(4)][:3] == [0, 0, 0]  # refills up to the burst only


def test_token_buckets_stay_bounded_under_endless_distinct_keys():
    clock = Clock()
    buckets = TokenBuckets(rate=1, burst=1, max_clients=100, clock=clock)
    for i in range(10_000):
        buckets.take(f"junk-{i}")
        clock.now += 0.001
    assert len(buckets) <= 100
    buckets.take("busy")
    assert buckets.take("busy") > 0  # a live, empty bucket is not forgotten by the pruning
    for i in range(150):
        buckets.take(f"more-{i}")
    assert len(buckets) <= 100


def _slow_app(gate: asyncio.Event):
    async def app(scope, receive, send):
        if scope["path"] != "/health":
            await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    return app


def _guarded(gate: asyncio.Event, **limits) -> httpx.AsyncClient:
    settings = Settings(**limits)
    guard = OverloadGuard(_slow_app(gate), settings=settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://t")


def assert_refusal(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert int(response.headers["retry-after"]) >= 1
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS
    assert body["error"]["status"] == status and body["error"]["code"] == code


def test_beyond_the_cap_requests_wait_briefly_then_get_503_with_retry_after():
    async def scenario():
        gate = asyncio.Event()
        async with _guarded(gate, max_concurrent_requests=2, overload_wait_seconds=0.3) as http:
            running = [asyncio.create_task(http.get("/x")) for _ in range(2)]
            await asyncio.sleep(0.05)
            waiting = [asyncio.create_task(http.get("/x")) for _ in range(2)]
            await asyncio.sleep(0.05)
            queue_full = await http.get("/x")  # as many wait as may run: no more
            health = await http.get("/health")  # exempt: a busy server is not a dead one
            timed_out = await asyncio.gather(*waiting)
            gate.set()
            done = await asyncio.gather(*running)
            after = await http.get("/x")
        return queue_full, health, timed_out, done, after

    queue_full, health, timed_out, done, after = asyncio.run(scenario())
    assert_refusal(queue_full, 503, "overloaded")
    assert health.status_code == 200
    for response in timed_out:
        assert_refusal(response, 503, "overloaded")
    assert [r.status_code for r in done] == [200, 200]
    assert after.status_code == 200  # every slot came back


def test_a_freed_slot_goes_to_the_oldest_waiter():
    async def scenario():
        slots = Slots(limit=1, max_waiting=5)
        assert await slots.acquire(0)
        order = []

        async def waiter(name):
            assert await slots.acquire(5)
            order.append(name)
            slots.release()

        tasks = [asyncio.create_task(waiter(n)) for n in "abc"]
        await asyncio.sleep(0.01)
        slots.release()
        await asyncio.gather(*tasks)
        return order, slots.active

    order, active = asyncio.run(scenario())
    assert order == ["a", "b", "c"] and active == 0


def test_a_cancelled_waiter_gives_its_place_back():
    async def scenario():
        slots = Slots(limit=1, max_waiting=1)
        assert await slots.acquire(0)
        task = asyncio.create_task(slots.acquire(5))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        slots.release()
        return slots.active, await slots.acquire(0)

    assert asyncio.run(scenario()) == (0, True)  # the slot was not handed to the cancelled one


def test_per_key_rate_limit_answers_429_per_key_and_recovers(db, database_url, tenant):
    settings = Settings(database=database_url, rate_limit_per_second=1, rate_limit_burst=3)
    other = create_key(db, tenant.workspace, ["read"]).key
    with TestClient(create_app(settings, db)) as client:
        statuses = [client.get("/acme/stats", params=MARCH, headers=bearer(tenant.read)).status_code
                    for _ in range(3)]
        limited = client.get("/acme/stats", params=MARCH, headers=bearer(tenant.read))
        same_key_in_query = client.get("/acme/stats", params={**MARCH, "api_key": tenant.read})
        fresh_key = client.get("/acme/stats", params=MARCH, headers=bearer(other))
        assert client.get("/health").status_code == 200
    assert statuses == [200, 200, 200]
    assert_refusal(limited, 429, "rate_limited")
    assert_refusal(same_key_in_query, 429, "rate_limited")  # one bucket per key, however sent
    assert fresh_key.status_code == 200


def test_rate_limit_is_off_by_default(client, tenant):
    statuses = {client.get("/acme/stats", params=MARCH, headers=bearer(tenant.read)).status_code
                for _ in range(40)}
    assert statuses == {200}


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("ANNOTATION_INSIGHTS_RATE_LIMIT_PER_SECOND", "12.5")
    monkeypatch.setenv("ANNOTATION_INSIGHTS_RATE_LIMIT_BURST", "40")
    monkeypatch.setenv("ANNOTATION_INSIGHTS_MAX_CONCURRENT_REQUESTS", "7")
    monkeypatch.setenv("ANNOTATION_INSIGHTS_OVERLOAD_WAIT_SECONDS", "0.5")
    s = Settings()
    assert (s.rate_limit_per_second, s.rate_limit_burst, s.max_concurrent_requests,
            s.overload_wait_seconds) == (12.5, 40, 7, 0.5)
    guard = OverloadGuard(_slow_app(asyncio.Event()), settings=s)
    assert guard.buckets.burst == 40 and guard.slots.limit == 7


CLIENTS, PER_CLIENT, BATCH = 16, 300, 100


@pytest.mark.backends("duckdb")
def test_an_overloaded_server_sheds_load_with_503_and_loses_nothing(database_url, tmp_path):
    """16 clients against a cap of 3: refusals are immediate 503s with Retry-After, clients
    that honour it get every batch stored exactly once, and the server never fails."""
    events = list(generate_events(spec_for_event_count(CLIENTS * PER_CLIENT, end=dt.date(2026, 6, 30))))
    shares = [events[i::CLIENTS] for i in range(CLIENTS)]
    batches = [[share[s:s + BATCH] for s in range(0, len(share), BATCH)] for share in shares]
    with open_database(database_url) as db:
        ws = create_workspace(db, "busy")
        key, read_key = create_key(db, ws, ["write"]).key, create_key(db, ws, ["read"]).key
    server = ServerProcess(database_url, tmp_path / "server.log", env={
        "ANNOTATION_INSIGHTS_MAX_CONCURRENT_REQUESTS": "3",
        "ANNOTATION_INSIGHTS_OVERLOAD_WAIT_SECONDS": "0.05"})
    server.start()

    async def client(http: httpx.AsyncClient, batches: list[list[dict]], statuses: list[int]):
        for batch in batches:
            while True:
                response = await http.post("/busy/events", json=batch)
                statuses.append(response.status_code)
                if response.status_code != 503:
                    break
                assert int(response.headers["retry-after"]) >= 1
                await asyncio.sleep(0.1)  # a quicker retry than asked: more pressure

    async def scenario():
        statuses: list[int] = []
        limits = httpx.Limits(max_connections=CLIENTS)
        async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits,
                                     headers=bearer(key)) as http:
            await asyncio.gather(*(client(http, own, statuses) for own in batches))
            answer = (await http.get("/busy/stats", params={"api_key": read_key, "startDate": "2026-01-01",
                                                            "endDate": "2026-12-31"},
                                     headers={"Authorization": ""})).json()
        return statuses, answer

    try:
        statuses, answer = asyncio.run(scenario())
    finally:
        server.kill()
    assert set(statuses) == {200, 503}, sorted(set(statuses))
    assert statuses.count(200) == sum(len(own) for own in batches)
    assert_same_stats(answer, expected_stats(events, "UTC", "2026-01-01", "2026-12-31"))
