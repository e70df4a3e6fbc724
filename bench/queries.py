"""Query latency through the real HTTP server, as a dashboard or script would see it.

Each figure is the wall time of one keep-alive `GET`, body read, measured `repeat` times
after two warm-up calls; a different query runs in between so no answer is served from a
warm result of the same request. Each round runs the queries in its own seeded order: an
answer right after a long one (the series by labeler, ~250 ms at 10M) or after any pause
of 50 ms or more is 2-5 ms slower on a shared virtual machine, and in a fixed order that
fell on the 7-day answer in every round.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from dataclasses import dataclass, field

import httpx

RANGES = (7, 90, 365)
TIMESERIES_PATH = "/{workspace}/stats/timeseries"


@dataclass
class Timing:
    name: str
    ms: list[float] = field(default_factory=list)
    rows: int | None = None  # data[] rows (or periods) in the answer
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def p95(self) -> float:
        return percentile(self.ms, 95)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolation."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * pct // 100) - 1))] if ordered else float("nan")


def date_range(end: dt.date, days: int) -> dict[str, str]:
    return {"startDate": (end - dt.timedelta(days=days - 1)).isoformat(), "endDate": end.isoformat()}


@dataclass
class QueryPlan:
    """The requests to time: name -> (path, params)."""

    slug: str
    end: dt.date
    project: str
    labeler: str
    timeseries: bool
    requests: dict[str, tuple[str, dict]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        stats = f"/{self.slug}/stats"
        for days in RANGES:
            base = date_range(self.end, days)
            self.requests[f"stats {days}d"] = (stats, base)
            self.requests[f"stats {days}d project"] = (stats, {**base, "project": self.project})
            self.requests[f"stats {days}d userId"] = (stats, {**base, "userId": self.labeler})
        if self.timeseries:
            series = TIMESERIES_PATH.format(workspace=self.slug)
            daily = {**date_range(self.end, 90), "granularity": "day"}
            self.requests["timeseries 90d day"] = (series, daily)
            # What the dashboard asks for any range up to 92 days.
            self.requests["timeseries 90d day by labeler"] = (series, {**daily, "groupBy": "labeler"})


def round_orders(names: list[str], repeat: int) -> list[list[str]]:
    """Each round's order of the requests: shuffled (the same every run), and never
    starting with the request that ended the round before."""
    shuffle, orders = random.Random(0).shuffle, []
    for _ in range(repeat):
        order = list(names)
        shuffle(order)
        if orders and len(order) > 1 and order[0] == orders[-1][-1]:
            order.append(order.pop(0))
        orders.append(order)
    return orders


def run_queries(url: str, key: str, plan: QueryPlan, repeat: int) -> tuple[dict[str, Timing], dict]:
    """Time every request `repeat` times, a round at a time; also return the 90-day stats
    answer."""
    timings = {name: Timing(name) for name in plan.requests}
    answer: dict = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=300) as http:
        for name, (path, params) in plan.requests.items():
            for _ in range(2):
                r = http.get(path, params=params)
            if r.status_code != 200:
                timings[name].error = f"HTTP {r.status_code}: {r.text[:300]}"
                continue
            body = r.json()
            timings[name].rows = len(body.get("data") or body.get("series") or body.get("periods") or [])
            if name == "stats 90d":
                answer = body
        for order in round_orders(list(plan.requests), repeat):
            for name in order:
                path, params = plan.requests[name]
                if timings[name].error:
                    continue
                t0 = time.perf_counter()
                r = http.get(path, params=params)
                elapsed = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:
                    timings[name].error = f"HTTP {r.status_code}: {r.text[:300]}"
                    continue
                timings[name].ms.append(elapsed)
    return timings, answer



class ApiTimer:
    """One request, timed, per call; `with` closes its keep-alive connection."""

    def __init__(self, url: str, key: str, path: str, params: dict) -> None:
        self._http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=300)
        self._path, self._params = path, params

    def __call__(self) -> float:
        t0 = time.perf_counter()
        self._http.get(self._path, params=self._params).raise_for_status()
        return (time.perf_counter() - t0) * 1000

    def __enter__(self) -> "ApiTimer":
        return self

    def __exit__(self, *exc) -> None:
        self._http.close()
