"""Load test: mixed ingest and stats traffic against a real server, bounded, loopback only.

    python bench/load_test.py                       # 5 minutes on a fresh DuckDB file
    python bench/load_test.py --database postgresql://USER@127.0.0.1:5432/EMPTY_DB
    python bench/load_test.py --duration 60 --concurrency 32 --json results.json

It starts `annotation-insights serve` on 127.0.0.1 (it never sends a request anywhere
else), then `--concurrency` asyncio clients each keep exactly one request in flight for
`--duration` seconds: an ingest batch with probability `--ingest-share`, else a stats
query (`/stats` over a random range, a third of them filtered by project or labeler, and
`/stats/timeseries`). Ingest walks a generated event stream in batches and starts over
when it reaches the end, so the second pass is all duplicates: the store stops growing,
and so must the server's memory. A 429/503 is honoured (Retry-After) and counted, never
dropped. The server's RSS is sampled every second from /proc.

At the end the served stats are compared with the same events ingested one batch at a
time into a scratch store (`--no-verify` skips it): load must lose and double nothing.
The report gives per-kind p50/p95/p99/max latency, status counts, 5xx and transport
errors, RSS at warm-up, end and peak, and the RSS growth over the second half.
Exit code 0 only when there was no 5xx, no transport error, the stats matched and memory
growth over the second half stayed under `--max-growth` percent.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from annotation_insights.demo.generator import generate_events, spec_for_event_count
from annotation_insights.events.ingest import ingest, validate_batch
from annotation_insights.metrics.query import StatsQuery, run_stats
from annotation_insights.store import open_database
from annotation_insights.tenancy.keys import create_key
from annotation_insights.tenancy.workspaces import create_workspace

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DATA_END = dt.date(2026, 6, 30)


@dataclass
class LoadConfig:
    duration: float = 300.0
    concurrency: int = 16
    ingest_share: float = 0.3
    batch: int = 500
    events: int = 150_000
    database: str | None = None  # a fresh DuckDB file in the work directory when None
    timeout: float = 30.0
    verify: bool = True
    max_growth: float = 10.0  # percent, RSS over the second half
    seed: int = 1
    server_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Kind:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def record(self, status: int, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(seconds)

    def summary(self) -> dict:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1) if ordered else 0.0
        return {"requests": len(ordered), "p50_ms": pct(0.50), "p95_ms": pct(0.95),
                "p99_ms": pct(0.99), "max_ms": round(1000 * ordered[-1], 1) if ordered else 0.0,
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())}}


@dataclass
class LoadResult:
    config: dict
    backend: str
    seconds: float
    kinds: dict[str, dict]
    server_errors: int
    transport_errors: int
    shed: int  # 429/503 answers (retried after Retry-After)
    events_sent: int
    events_unique_acked: int
    rss_mb: dict[str, float]
    stats_match: bool | None
    server_exit_code: int | None

    @property
    def ok(self) -> bool:
        return (self.server_errors == 0 and self.transport_errors == 0 and self.stats_match is not False
                and self.rss_mb["growth_second_half_pct"] < self.config["max_growth"])

    def lines(self) -> list[str]:
        out = [f"backend {self.backend}, {self.seconds:.0f} s, concurrency {self.config['concurrency']}, "
               f"ingest share {self.config['ingest_share']}"]
        for name, k in self.kinds.items():
            out.append(f"  {name:<11} {k['requests']:>7} requests  p50 {k['p50_ms']:>7.1f} ms  "
                       f"p95 {k['p95_ms']:>7.1f} ms  p99 {k['p99_ms']:>7.1f} ms  max {k['max_ms']:>7.1f} ms  "
                       f"{k['statuses']}")
        out.append(f"  5xx {self.server_errors}, transport errors {self.transport_errors}, "
                   f"shed (429/503) {self.shed}")
        out.append(f"  events sent {self.events_sent:,}, unique acknowledged {self.events_unique_acked:,}, "
                   f"stats match: {self.stats_match}")
        r = self.rss_mb
        out.append(f"  server RSS MB: warm {r['warm']}, mid {r['mid']}, end {r['end']}, peak {r['peak']}, "
                   f"second-half growth {r['growth_second_half_pct']}%")
        out.append(f"  server exit code {self.server_exit_code}; verdict: {'PASS' if self.ok else 'FAIL'}")
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


class _Server:
    def __init__(self, database: str, log: Path, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items() if k != "ANNOTATION_INSIGHTS_DATABASE"}
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "annotation_insights", "--database", database, "serve",
                 "--host", "127.0.0.1", "--port", str(self.port)],
                env=environment | env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.kill()
                raise RuntimeError(f"the server did not start; see {log}")
            time.sleep(0.2)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


class _Traffic:
    """The shared state of the clients: where ingest is in the stream, and what was seen."""

    def __init__(self, batches: list[list[dict]], projects: list[str], labelers: list[str],
                 rng: random.Random) -> None:
        self.batches = batches
        self.next_batch = 0
        self.projects, self.labelers, self.rng = projects, labelers, rng
        self.kinds = {"ingest": Kind(), "stats": Kind(), "timeseries": Kind()}
        self.acked: set[str] = set()
        self.events_sent = 0
        self.transport_errors = 0
        self.shed = 0

    def take_batch(self) -> list[dict]:
        batch = self.batches[self.next_batch % len(self.batches)]
        self.next_batch += 1
        return batch

    def stats_params(self) -> tuple[str, dict]:
        first = DATA_END - dt.timedelta(days=60)
        start = first + dt.timedelta(days=self.rng.randrange(0, 55))
        end = start + dt.timedelta(days=self.rng.randrange(0, 30))
        params = {"startDate": start.isoformat(), "endDate": min(end, DATA_END).isoformat()}
        roll = self.rng.random()
        if roll < 0.2:
            params["project"] = self.rng.choice(self.projects)
        elif roll < 0.33:
            params["userId"] = self.rng.choice(self.labelers)
        if self.rng.random() < 0.15:
            params["granularity"] = self.rng.choice(["day", "week"])
            return "timeseries", params
        return "stats", params


async def _client(http: httpx.AsyncClient, traffic: _Traffic, slug: str, keys: dict[str, str],
                  ingest_share: float, stop_at: float) -> None:
    while time.monotonic() < stop_at:
        if traffic.rng.random() < ingest_share:
            kind, batch = "ingest", traffic.take_batch()
            send = lambda: http.post(f"/{slug}/events", json=batch,  # noqa: E731
                                     headers={"Authorization": f"Bearer {keys['write']}"})
        else:
            kind, params = traffic.stats_params()
            path = f"/{slug}/stats" + ("/timeseries" if kind == "timeseries" else "")
            send = lambda: http.get(path, params=params,  # noqa: E731
                                    headers={"Authorization": f"Bearer {keys['read']}"})
        while True:
            started = time.perf_counter()
            try:
                response = await send()
            except httpx.HTTPError:
                traffic.transport_errors += 1
                await asyncio.sleep(0.5)
                break
            traffic.kinds[kind].record(response.status_code, time.perf_counter() - started)
            if response.status_code in (429, 503):
                traffic.shed += 1
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                continue
            if kind == "ingest":
                traffic.events_sent += len(batch)
                if response.status_code == 200:
                    traffic.acked.update(e["id"] for e in batch)
            break


async def _sample_rss(pid: int, samples: list[tuple[float, float]], stop_at: float) -> None:
    start = time.monotonic()
    while time.monotonic() < stop_at:
        rss = _rss_mb(pid)
        if rss is not None:
            samples.append((time.monotonic() - start, rss))
        await asyncio.sleep(1.0)


async def _drive(url: str, traffic: _Traffic, slug: str, keys: dict[str, str], config: LoadConfig,
                 pid: int, samples: list[tuple[float, float]]) -> None:
    limits = httpx.Limits(max_connections=config.concurrency, max_keepalive_connections=config.concurrency)
    stop_at = time.monotonic() + config.duration
    async with httpx.AsyncClient(base_url=url, timeout=config.timeout, limits=limits) as http:
        await asyncio.gather(_sample_rss(pid, samples, stop_at), *(
            _client(http, traffic, slug, keys, config.ingest_share, stop_at)
            for _ in range(config.concurrency)))


def _rss_summary(samples: list[tuple[float, float]], duration: float) -> dict[str, float]:
    def around(fraction: float) -> float:
        t = fraction * duration
        window = [rss for at, rss in samples if abs(at - t) <= max(2.0, 0.05 * duration)]
        return round(statistics.median(window), 1) if window else 0.0
    warm, mid, end = around(0.1), around(0.5), around(0.97)
    return {"warm": warm, "mid": mid, "end": end,
            "peak": max((rss for _, rss in samples), default=0.0),
            "growth_second_half_pct": round(100 * (end - mid) / mid, 1) if mid else 0.0}


def _expected_stats(events: list[dict], acked: set[str], workdir: Path, params: dict) -> dict:
    """The same events ingested serially into a scratch store: what load must not change."""
    with open_database(str(workdir / f"verify-{secrets.token_hex(4)}.duckdb")) as db:
        workspace = create_workspace(db, "verify")
        kept = [e for e in events if e["id"] in acked]
        for start in range(0, len(kept), 5_000):
            ingest(db, workspace, validate_batch(kept[start:start + 5_000]))
        query = StatsQuery.parse(start=params["startDate"], end=params["endDate"],
                                 availability=dt.date(2000, 1, 1))
        return run_stats(db, workspace, query)


def run_load(config: LoadConfig, workdir: Path) -> LoadResult:
    """Run one load test (see the module doc) and return its figures."""
    rng = random.Random(config.seed)
    spec = spec_for_event_count(config.events, end=DATA_END, seed=config.seed)
    events = list(generate_events(spec))
    batches = [events[i:i + config.batch] for i in range(0, len(events), config.batch)]
    database = config.database or str(workdir / "load.duckdb")
    slug = f"load-{secrets.token_hex(4)}"
    with open_database(database) as db:
        workspace = create_workspace(db, slug)
        keys = {"write": create_key(db, workspace, ["write"]).key,
                "read": create_key(db, workspace, ["read"]).key}
    traffic = _Traffic(batches, sorted({e["project"] for e in events}),
                       sorted({e["labeler"] for e in events}), rng)
    server = _Server(database, workdir / "server.log", config.server_env)
    samples: list[tuple[float, float]] = []
    try:
        assert urlsplit(server.url).hostname in LOOPBACK
        started = time.monotonic()
        asyncio.run(_drive(server.url, traffic, slug, keys, config, server.proc.pid, samples))
        seconds = time.monotonic() - started
        everything = {"startDate": (DATA_END - dt.timedelta(days=400)).isoformat(),
                      "endDate": DATA_END.isoformat()}
        served = httpx.get(f"{server.url}/{slug}/stats", params=everything, timeout=120,
                           headers={"Authorization": f"Bearer {keys['read']}"}).json()
    finally:
        exit_code = server.stop()
    stats_match = None
    if config.verify:
        expected = _expected_stats(events, traffic.acked, workdir, everything)
        stats_match = served["stats"] == expected["stats"] and served["data"] == [
            {**row, "workspaceId": slug} for row in expected["data"]]
    kinds = {name: k.summary() for name, k in traffic.kinds.items()}
    server_errors = sum(n for k in traffic.kinds.values() for s, n in k.statuses.items() if s >= 500
                        and s != 503)
    return LoadResult(
        config={k: v for k, v in asdict(config).items() if k not in ("server_env", "database")},
        backend="postgresql" if database.startswith(("postgresql://", "postgres://")) else "duckdb",
        seconds=round(seconds, 1), kinds=kinds, server_errors=server_errors,
        transport_errors=traffic.transport_errors, shed=traffic.shed,
        events_sent=traffic.events_sent, events_unique_acked=len(traffic.acked),
        rss_mb=_rss_summary(samples, seconds), stats_match=stats_match, server_exit_code=exit_code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = LoadConfig()
    parser.add_argument("--duration", type=float, default=defaults.duration, help="seconds (default 300)")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--ingest-share", type=float, default=defaults.ingest_share)
    parser.add_argument("--batch", type=int, default=defaults.batch)
    parser.add_argument("--events", type=int, default=defaults.events, help="size of the event stream")
    parser.add_argument("--database", help="DuckDB path or postgresql:// URL (default: a temp DuckDB file)")
    parser.add_argument("--max-growth", type=float, default=defaults.max_growth,
                        help="allowed RSS growth over the second half, percent")
    parser.add_argument("--no-verify", dest="verify", action="store_false")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    config = LoadConfig(duration=args.duration, concurrency=args.concurrency,
                        ingest_share=args.ingest_share, batch=args.batch, events=args.events,
                        database=args.database, verify=args.verify, max_growth=args.max_growth,
                        seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="ai-load-") as tmp:
        result = run_load(config, Path(tmp))
    print("\n".join(result.lines()))
    if args.json:
        args.json.write_text(json.dumps({**asdict(result), "ok": result.ok}, indent=2) + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
