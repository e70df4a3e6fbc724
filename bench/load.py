"""Stores, the real server process, HTTP ingest and bulk import, as a user would run them.

A DuckDB file is opened by one process at a time, so the workspace, its reference data and
its keys are made in-process first and the store closed before `serve` (or `import`) opens it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from annotation_insights.demo.generator import demo_labelers, demo_projects
from annotation_insights.store import open_database
from annotation_insights.tenancy.keys import create_key
from annotation_insights.tenancy.reference import put_labeler, put_project
from annotation_insights.tenancy.workspaces import create_workspace
from bench.data import Dataset, json_list, ndjson_batches

CLI = [sys.executable, "-m", "annotation_insights"]


# --- stores --------------------------------------------------------------------------

@dataclass
class Store:
    """One empty store: a DuckDB file, or one database of a PostgreSQL server."""

    url: str
    backend: str
    admin_url: str | None = None

    def disk_bytes(self) -> int:
        if self.backend == "duckdb":
            return sum(p.stat().st_size for p in (Path(self.url), Path(self.url + ".wal")) if p.exists())
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]

    def drop(self) -> None:
        if self.backend == "duckdb":
            for p in (Path(self.url), Path(self.url + ".wal")):
                p.unlink(missing_ok=True)
            return
        import psycopg

        name = urlsplit(self.url).path.lstrip("/")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_store(backend: str, name: str, workdir: Path, admin_url: str | None) -> Store:
    if backend == "duckdb":
        store = Store(str(workdir / f"{name}.duckdb"), backend)
        store.drop()
        return store
    import psycopg

    parts = urlsplit(admin_url)
    store = Store(urlunsplit(parts._replace(path=f"/{name}")), backend, admin_url)
    store.drop()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return store


def prepare_workspace(store: Store, slug: str, data: Dataset) -> dict[str, str]:
    """Workspace, names of the demo's projects and labelers, and a read and a write key."""
    with contextlib.closing(open_database(store.url)) as db:
        ws = create_workspace(db, slug, name=f"Benchmark {data.label}", timezone=data.spec.timezone)
        for p in demo_projects(data.spec):
            put_project(db, ws, p["slug"], p["name"], p["type"])
        for lab in demo_labelers(data.spec):
            put_labeler(db, ws, lab["id"], lab["displayName"], lab["email"], lab["system"])
        return {"read": create_key(db, ws, ["read"]).key, "write": create_key(db, ws, ["write"]).key}


@contextlib.contextmanager
def postgres_cluster(workdir: Path):
    """A throwaway cluster with PostgreSQL's durable defaults (fsync and synchronous commit
    on, unlike the test suite's), so ingest numbers mean what they would in production."""
    from tests.support.postgres import _binary

    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        raise SystemExit("PostgreSQL server binaries not found; install postgresql or pass --database")
    run_as, user = [], os.environ.get("USER") or "postgres"
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        run_as, user = ["runuser", "-u", "postgres", "--"], "postgres"
    base = workdir / "pg"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    if run_as:
        shutil.chown(base, user)
    data, port = base / "data", _free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run([*run_as, initdb, "-D", str(data), "-A", "trust", "-U", user, "-E", "UTF8"],
                   check=True, **quiet)
    try:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-w", "-l", str(base / "log"), "-o",
                        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=100 "
                        "-c shared_buffers=1GB", "start"], check=True, **quiet)
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "fast", "stop"], **quiet)
        shutil.rmtree(base, ignore_errors=True)


# --- the server ----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`annotation-insights serve` as a subprocess; the benchmark talks to it over HTTP only."""

    def __init__(self, store: Store, log: Path) -> None:
        self.store, self.log_path = store, log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen([*CLI, "--database", self.store.url, "serve", "--port", str(self.port)],
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"server did not start; see {self.log_path}")
            time.sleep(0.2)

    def peak_rss_bytes(self) -> int:
        """VmHWM: the most resident memory the server process has had since it started."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)[1]) * 1024

    def has_route(self, path: str) -> bool:
        return path in httpx.get(f"{self.url}/openapi.json", timeout=30).json().get("paths", {})

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# --- HTTP ingest ---------------------------------------------------------------------

@dataclass
class IngestRun:
    events: int = 0
    seconds: float = 0.0
    accepted: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)
    request_ms: list[float] = field(default_factory=list)
    window_rates: list[float] = field(default_factory=list)  # events/s of consecutive windows
    body: str = "ndjson"  # how the batches were sent (`BODY_TYPES`)
    batch: int = 5_000  # events a request
    clients: int = 4

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


BODY_TYPES = {"ndjson": "application/x-ndjson", "json": "application/json"}


def http_ingest(url: str, slug: str, key: str, data: Dataset, *, batch: int = 5_000,
                clients: int = 4, limit: int | None = None, windows: int = 20,
                body: str = "ndjson") -> IngestRun:
    """POST the data set in batches from `clients` concurrent connections, as NDJSON or as
    JSON lists (`body`)."""
    bodies = ndjson_batches(data.ndjson, batch, limit)
    if body == "json":
        bodies = ((json_list(ndjson), n) for ndjson, n in bodies)
    lock, done = threading.Lock(), queue.SimpleQueue()
    run = IngestRun(body=body, batch=batch, clients=clients)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": BODY_TYPES[body]}

    def client() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
            while True:
                with lock:
                    item = next(bodies, None)
                if item is None:
                    return
                body, n = item
                t0 = time.perf_counter()
                try:
                    r = http.post(f"/{slug}/events", content=body)
                except httpx.HTTPError as exc:
                    done.put((time.perf_counter(), n, t0, None, repr(exc)))
                    continue
                done.put((time.perf_counter(), n, t0, r.status_code, r.json() if r.status_code == 200 else r.text[:300]))

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.seconds = time.perf_counter() - started
    finished = []
    while not done.empty():
        finished.append(done.get())
    finished.sort()
    for end, n, t0, status, body in finished:
        run.request_ms.append((end - t0) * 1000)
        if status == 200:
            run.events += n
            run.accepted += body["accepted"]
            run.duplicates += body["duplicates"]
        else:
            run.errors.append(f"HTTP {status}: {body}")
    per_window = max(1, len(finished) // windows)
    last = started
    for i in range(0, len(finished) - per_window + 1, per_window):
        chunk = finished[i:i + per_window]
        run.window_rates.append(sum(c[1] for c in chunk) / (chunk[-1][0] - last))
        last = chunk[-1][0]
    return run


# --- bulk import ---------------------------------------------------------------------

@dataclass
class ImportRun:
    events: int
    seconds: float  # wall clock of the whole command, start-up included
    reported_rate: float | None  # what the command printed (its own timer)
    output: str
    ok: bool
    loadavg_after: tuple[float, float, float] = (0.0, 0.0, 0.0)  # the shared machine's load

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def import_available() -> bool:
    r = subprocess.run([*CLI, "import", "--help"], capture_output=True, text=True)
    return r.returncode == 0 and "--workspace" in r.stdout


def bulk_import(store: Store, slug: str, path: Path, events: int, log: Path) -> ImportRun:
    t0 = time.perf_counter()
    r = subprocess.run([*CLI, "--database", store.url, "import", str(path), "--workspace", slug],
                       capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    with log.open("a") as f:
        f.write(f"$ import {path}\n{r.stdout}\n{r.stderr[-3000:]}\n")
    m = re.search(r"([\d,]+) events/s", r.stdout)
    return ImportRun(events, seconds, float(m[1].replace(",", "")) if m else None,
                     r.stdout.strip(), r.returncode == 0 and "rejected 0 rows" in r.stdout, os.getloadavg())
