"""Overload protection: a per-key token bucket (429) and a cap on executing requests (503).

An overloaded server must say so at once, in the one error shape and with `Retry-After`,
rather than let connections pile up until clients time out (a timed-out ingest leaves the
client unsure whether its batch was stored). Both checks run before the route, so a
refused request has done no work and changed nothing; retrying it is always safe.

- Rate limit (off unless `rate_limit_per_second` > 0): one token bucket per presented
  key — or per client address for requests without one — refilled at that rate up to
  `rate_limit_burst` tokens. An empty bucket answers 429.
- Concurrency cap: at most `max_concurrent_requests` requests execute in one process; a
  request beyond that waits up to `overload_wait_seconds` for a slot, first come first
  served, then gets 503. At most as many requests wait as may run, so the queue is bounded.

`/health` is exempt from both: an orchestrator must not restart a busy server.
Buckets are keyed by a hash of the key, never the key itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from annotation_insights.api.deps import presented_key
from annotation_insights.api.responses import JSONResponse
from annotation_insights.errors import ApiError
from annotation_insights.settings import Settings

EXEMPT_PATHS = frozenset(("/health",))
MAX_TRACKED_CLIENTS = 10_000
BUSY_RETRY_AFTER_SECONDS = 1


class TokenBuckets:
    """Per-client token buckets in bounded memory: idle (full) buckets are forgotten first."""

    def __init__(self, rate: float, burst: int, *, max_clients: int = MAX_TRACKED_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst or math.ceil(rate))
        self._max = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """0 if a token was taken, else the seconds until one will be available."""
        now = self._clock()
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self._max:
            self._forget(now)
        return wait

    def _forget(self, now: float) -> None:
        full = [c for c, (tokens, last) in self._buckets.items()
                if tokens + (now - last) * self.rate >= self.burst]
        for client in full:
            del self._buckets[client]
        while len(self._buckets) > self._max * 9 // 10:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


class Slots:
    """A FIFO semaphore with a bounded queue and a wait timeout.

    A released slot is handed straight to the oldest waiter, so a steady stream of new
    requests cannot starve the ones already waiting.
    """

    def __init__(self, limit: int, max_waiting: int) -> None:
        self.limit = limit
        self.max_waiting = max_waiting
        self.active = 0
        self._waiters: deque[asyncio.Future] = deque()

    async def acquire(self, timeout: float) -> bool:
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return True
        if len(self._waiters) >= self.max_waiting or timeout <= 0:
            return False
        slot = asyncio.get_running_loop().create_future()
        self._waiters.append(slot)
        try:
            await asyncio.wait((slot,), timeout=timeout)
        except asyncio.CancelledError:
            self._give_up(slot)
            raise
        if slot.done():
            return True
        self._give_up(slot)
        return False

    def _give_up(self, slot: asyncio.Future) -> None:
        if slot.done() and not slot.cancelled():
            self.release()  # handed over just as we stopped waiting: pass it on
            return
        slot.cancel()
        self._waiters.remove(slot)

    def release(self) -> None:
        while self._waiters:
            slot = self._waiters.popleft()
            if not slot.done():
                slot.set_result(True)
                return
        self.active -= 1


def _client_identity(scope: Scope) -> str:
    key = presented_key(Request(scope))
    if key is not None:
        return "key:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    client = scope.get("client")
    return "addr:" + (client[0] if client else "unknown")


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str,
                  message: str, retry_after: int) -> None:
    error = ApiError(message, status=status, code=code)
    response = JSONResponse(error.body(), status_code=status,
                            headers={"Retry-After": str(retry_after)})
    await response(scope, receive, send)


class OverloadGuard:
    """ASGI middleware applying the rate limit and the concurrency cap (see module doc)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.buckets = (TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
                        if settings.rate_limit_per_second > 0 else None)
        limit = max(1, settings.max_concurrent_requests)
        self.slots = Slots(limit, max_waiting=limit)
        self.wait_seconds = settings.overload_wait_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self.buckets is not None:
            wait = self.buckets.take(_client_identity(scope))
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                await _refuse(scope, receive, send, 429, "rate_limited",
                              f"Too many requests for this API key; retry in {seconds} s.", seconds)
                return
        if not await self.slots.acquire(self.wait_seconds):
            await _refuse(scope, receive, send, 503, "overloaded",
                          "The server is busy; nothing was changed by this request. Retry in "
                          f"{BUSY_RETRY_AFTER_SECONDS} s.", BUSY_RETRY_AFTER_SECONDS)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()
