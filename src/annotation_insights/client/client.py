"""`Client`: send events and read stats over the HTTP API, from any Python program.

Sending is safe to retry because event ids are idempotent (SPEC §3: a re-sent id is a
no-op), so the client retries network errors and 5xx answers with exponential backoff
and never double-counts. 4xx answers are the caller's to fix and raise at once.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from annotation_insights.client.models import Stats, Timeseries

MAX_BATCH_EVENTS = 10_000  # SPEC §3 limits, per request
MAX_BATCH_BYTES = 15 * 1024 * 1024  # under the 16 MiB cap, with room for nothing else
RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))


class AnnotationInsightsError(Exception):
    """An error answer from the server, in its one error shape (SPEC §6)."""

    def __init__(self, status: int, code: str, message: str, details: list | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details or []


@dataclass(frozen=True)
class SendResult:
    accepted: int
    duplicates: int
    batches: int


def _date(value: dt.date | str) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _event_json(event: Mapping[str, Any]) -> bytes:
    moment = event.get("time")
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            raise ValueError(f"event {event.get('id')!r}: time is a naive datetime; give it a "
                             "timezone (SPEC §3 needs an offset)")
        event = {**event, "time": moment.isoformat()}
    return orjson.dumps(dict(event))


class Client:
    """A connection to an Annotation Insights server.

    >>> client = Client("http://127.0.0.1:8000", "ai_...")
    >>> client.send([{"id": "e1", "type": "annotation.created", ...}])
    >>> client.stats("acme", "2024-03-01", "2024-03-31").to_pandas()
    """

    def __init__(self, url: str, api_key: str, *, workspace: str | None = None,
                 timeout: float = 30.0, max_retries: int = 5, backoff: float = 0.5,
                 batch_size: int = 5_000, transport: httpx.BaseTransport | None = None) -> None:
        if not 1 <= batch_size <= MAX_BATCH_EVENTS:
            raise ValueError(f"batch_size must be 1 to {MAX_BATCH_EVENTS}")
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {api_key}"})
        self._workspace = workspace
        self.max_retries, self.backoff, self.batch_size = max_retries, backoff, batch_size

    # --- plumbing ---------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                if attempt >= self.max_retries:
                    raise
            else:
                if response.status_code < 400:
                    return response.json()
                if response.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
                    raise _error(response)
            time.sleep(self.backoff * (2 ** attempt) * (0.5 + random.random()))
            attempt += 1

    @property
    def workspace(self) -> str:
        """The workspace the key belongs to (asked once: `POST /`)."""
        if self._workspace is None:
            self._workspace = self._request("POST", "/")["workspace"]
        return self._workspace

    # --- events -----------------------------------------------------------------------

    def send(self, events: Iterable[Mapping[str, Any]]) -> SendResult:
        """Send SPEC §3 events in batches; returns what was new and what was a duplicate.

        Any iterable works (a generator is consumed lazily, one batch in memory). A
        batch that fails after the retries raises; the batches before it are stored,
        and sending everything again is safe.
        """
        accepted = duplicates = batches = 0
        for body in self._batches(events):
            answer = self._request("POST", f"/{self.workspace}/events", content=body,
                                   headers={"Content-Type": "application/x-ndjson"})
            accepted += answer["accepted"]
            duplicates += answer["duplicates"]
            batches += 1
        return SendResult(accepted, duplicates, batches)

    def _batches(self, events: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
        lines: list[bytes] = []
        size = 0
        for event in events:
            line = _event_json(event) + b"\n"
            if lines and (len(lines) >= self.batch_size or size + len(line) > MAX_BATCH_BYTES):
                yield b"".join(lines)
                lines, size = [], 0
            lines.append(line)
            size += len(line)
        if lines:
            yield b"".join(lines)

    # --- stats ------------------------------------------------------------------------

    def stats(self, workspace: str, start: dt.date | str, end: dt.date | str, *,
              project: str | None = None, user_id: str | None = None) -> Stats:
        """`GET /{workspace}/stats` for local dates [start, end]."""
        params = {"startDate": _date(start), "endDate": _date(end)}
        if project is not None:
            params["project"] = project
        if user_id is not None:
            params["userId"] = user_id
        return Stats.from_json(self._request("GET", f"/{workspace}/stats", params=params))

    def timeseries(self, workspace: str, start: dt.date | str, end: dt.date | str, *,
                   granularity: str = "day", project: str | None = None,
                   user_id: str | None = None, group_by: str | None = None) -> Timeseries:
        """`GET /{workspace}/stats/timeseries`: the metrics per day, week or month,
        optionally per labeler or project (`group_by`)."""
        params = {"startDate": _date(start), "endDate": _date(end), "granularity": granularity}
        if project is not None:
            params["project"] = project
        if user_id is not None:
            params["userId"] = user_id
        if group_by is not None:
            params["groupBy"] = group_by
        return Timeseries.from_json(self._request("GET", f"/{workspace}/stats/timeseries",
                                                  params=params))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _error(response: httpx.Response) -> AnnotationInsightsError:
    try:
        error = response.json()["error"]
        return AnnotationInsightsError(error["status"], error["code"], error["message"],
                                       error.get("details"))
    except (ValueError, KeyError, TypeError):
        return AnnotationInsightsError(response.status_code, "http_error", response.text[:500])
