"""Benchmark: generate a workspace, load it through the real server, time it, print a table.

    .venv/bin/python bench/run.py --events 1M [--backend duckdb|postgresql] [--repeat 30]

Per size: generate (cached) → load over HTTP (or by `import` above --http-load-max) →
time GET /stats and the time series over HTTP → stop the server (peak RSS, bytes on disk)
→ time `annotation-insights import` of the NDJSON and the Parquet file into fresh stores
(`--import-repeat` times each, the formats taking turns, each followed on DuckDB by
DuckDB's own load of the same file)
→ time the two baselines on the same events and check their answers equal the API's.
See docs/performance.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `bench` and `tests.support` as packages

from rich.console import Console  # noqa: E402

from annotation_insights.demo.generator import demo_labelers, demo_projects  # noqa: E402
from bench import baselines, report  # noqa: E402
from bench.data import ARRIVALS, ID_STYLES, Dataset, dataset, parse_size, size_label  # noqa: E402
from bench.load import (BODY_TYPES, ImportRun, Server, bulk_import, http_ingest, import_available,  # noqa: E402
                        new_store, postgres_cluster, prepare_workspace)
from bench.queries import TIMESERIES_PATH, ApiTimer, QueryPlan, date_range, run_queries  # noqa: E402

SLUG, SAMPLE_SLUG = "bench", "bench-http"
console = Console(highlight=False, width=None if sys.stdout.isatty() else 220)


def log(message: str) -> None:
    console.print(f"[dim]{dt.datetime.now():%H:%M:%S}[/dim] {message}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", action="append", default=None,
                   help="events per workspace: 1M, 10M, 500k, ...; repeat or comma-separate (default 1M)")
    p.add_argument("--backend", choices=("duckdb", "postgresql"), default="duckdb")
    p.add_argument("--database", help="postgresql:// URL of a server where the user may create "
                                      "databases (default: start a throwaway cluster)")
    p.add_argument("--repeat", type=int, default=30, help="timed runs of each query (default 30)")
    p.add_argument("--baseline-repeat", type=int, default=10, help="timed runs of each baseline (default 10)")
    p.add_argument("--labelers", type=int, default=200, help="human labelers in the workspace (default 200)")
    p.add_argument("--arrival", choices=ARRIVALS, default="time",
                   help="the order events are sent and imported in: as generated (time) or a "
                        "random permutation of them (default time)")
    p.add_argument("--ids", choices=ID_STYLES, default="short",
                   help="event and annotation ids: the generator's short ones, or random UUIDs "
                        "(default short)")
    p.add_argument("--http-load-max", type=parse_size, default=10_000_000,
                   help="above this size the workspace is loaded by bulk import and HTTP ingest is "
                        "measured on a sample (default 10M)")
    p.add_argument("--http-sample", type=parse_size, default=1_000_000,
                   help="events posted to measure HTTP ingest above --http-load-max (default 1M)")
    p.add_argument("--ingest-body", choices=tuple(BODY_TYPES), default="ndjson",
                   help="how HTTP ingest sends its batches: NDJSON or JSON lists (default ndjson)")
    p.add_argument("--ingest-batch", type=int, default=5_000,
                   help="events a request during HTTP ingest (default 5000, as the targets ask)")
    p.add_argument("--ingest-clients", type=int, default=4,
                   help="concurrent clients posting during HTTP ingest (default 4)")
    p.add_argument("--skip-import", action="store_true", help="do not time bulk import")
    p.add_argument("--import-repeat", type=int, default=3,
                   help="timed imports of each file, each into a fresh store (default 3)")
    p.add_argument("--import-max", type=parse_size, default=None,
                   help="time bulk import only for sizes up to this (each import loads a fresh store)")
    p.add_argument("--skip-baselines", action="store_true", help="do not run the baselines")
    p.add_argument("--keep-stores", action="store_true", help="keep the loaded store (DuckDB file / database)")
    p.add_argument("--out", type=Path, default=Path("results.json"))
    p.add_argument("--workdir", type=Path, default=Path("/tmp/ai-bench"))
    args = p.parse_args(argv)
    if args.import_repeat < 1:
        p.error("--import-repeat must be at least 1 (use --skip-import to time no import)")
    args.sizes = [parse_size(s) for item in (args.events or ["1M"]) for s in item.split(",") if s.strip()]
    return args


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_kib": int(mem.split()[1]),
            "loadavg_at_start": os.getloadavg(), "python": platform.python_version(), **source()}


def source() -> dict:
    """Which product code is measured: PYTHONPATH=<tree>/src picks a snapshot over the
    editable install, and the hash tells two runs of different code apart."""
    import annotation_insights

    package = Path(annotation_insights.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    head = subprocess.run(["git", "-C", str(package), "log", "-1", "--format=%h"],
                          capture_output=True, text=True).stdout.strip()
    dirty = head and subprocess.run(["git", "-C", str(package), "status", "--porcelain", "."],
                                    capture_output=True, text=True).stdout.strip()
    return {"source": str(package), "source_sha256": digest.hexdigest()[:12],
            "git_head": (head + " + uncommitted changes" if dirty else head) or None}


def run_size(n: int, args: argparse.Namespace, admin_url: str | None) -> dict:
    data = dataset(n, args.workdir, labelers=args.labelers, arrival=args.arrival, ids=args.ids, log=log)
    label = data.label
    result: dict = {"label": label, "backend": args.backend, "dataset": data.describe(),
                    "started": dt.datetime.now().isoformat(timespec="seconds"),
                    "loadavg_at_start": os.getloadavg()}
    name = f"bench_{label.lower()}_{args.labelers}l"
    server_log = args.workdir / f"server-{name}-{args.backend}.log"
    store = new_store(args.backend, name, args.workdir, admin_url)
    keys = prepare_workspace(store, SLUG, data)
    can_import = import_available()
    skip = "--skip-import" if args.skip_import else (
        "above --import-max" if args.import_max is not None and n > args.import_max else None)
    importing = can_import and not skip
    imports: dict = ({} if importing else {f: {"skipped": skip} for f in ("ndjson", "parquet")} if can_import
                     else {f: {"missing": True} for f in ("ndjson", "parquet")})
    http_load = n <= args.http_load_max
    stored = data.events
    runs: dict[str, list[ImportRun]] = {"ndjson": [], "parquet": []}
    floors: dict[str, list[float]] = {"ndjson": [], "parquet": []}
    if not http_load:
        if not can_import:
            raise SystemExit(f"{label} is above --http-load-max and needs `annotation-insights import`")
        log(f"Loading {data.events:,} events by bulk import (NDJSON) ...")
        runs["ndjson"].append(bulk_import(store, SLUG, data.ndjson, data.events, server_log))
        sample_keys = prepare_workspace(store, SAMPLE_SLUG, data)
        stored += min(args.http_sample, data.events)
    with Server(store, server_log) as server:
        if http_load:
            log(f"Loading {data.events:,} events over HTTP ({args.backend}) ...")
            ingest = http_ingest(server.url, SLUG, keys["write"], data, body=args.ingest_body,
                                 batch=args.ingest_batch, clients=args.ingest_clients)
        else:
            log(f"Posting {args.http_sample:,} events over HTTP to measure ingest ...")
            ingest = http_ingest(server.url, SAMPLE_SLUG, sample_keys["write"], data,
                                 limit=args.http_sample, body=args.ingest_body,
                                 batch=args.ingest_batch, clients=args.ingest_clients)
        result["ingest"] = vars(ingest) | {"rate": ingest.rate}
        log(f"HTTP ingest: {ingest.rate:,.0f} events/s overall, {len(ingest.errors)} failed requests")
        plan = QueryPlan(SLUG, data.end, demo_projects(data.spec)[0]["slug"], demo_labelers(data.spec)[0]["id"],
                         timeseries=server.has_route(TIMESERIES_PATH))
        result["timeseries_missing"] = not plan.timeseries
        log(f"Timing {len(plan.requests)} queries x {args.repeat} ...")
        timings, answer = run_queries(server.url, keys["read"], plan, args.repeat)
        result["queries"] = {k: vars(t) for k, t in timings.items()}
        result["rss_bytes"] = server.peak_rss_bytes()
        if not args.skip_baselines:
            path, params = plan.requests["stats 90d"]
            with ApiTimer(server.url, keys["read"], path, params) as api:
                result["baselines"] = run_baselines(data, answer, args, api)
    result["disk_bytes"], result["stored_events"] = store.disk_bytes(), stored
    result["dataset"]["events_for_disk"] = stored
    if not args.keep_stores:
        store.drop()
    # The formats take turns, so that the shared machine's load weighs on both alike.
    for _ in range(args.import_repeat if importing else 0):
        for fmt, path in (("ndjson", data.ndjson), ("parquet", data.parquet)):
            if len(runs[fmt]) >= args.import_repeat:  # the import that loaded a large store counts
                continue
            log(f"Bulk import of {path.name} into a fresh store ...")
            fresh = new_store(args.backend, f"{name}_{fmt}", args.workdir, admin_url)
            prepare_workspace(fresh, SLUG, data)
            runs[fmt].append(bulk_import(fresh, SLUG, path, data.events, server_log))
            fresh.drop()
            if args.backend == "duckdb" and not args.skip_baselines:
                floors[fmt].append(baselines.duckdb_load(path, fmt, args.workdir / f"{name}_load.duckdb"))
    imports.update({fmt: {"runs": [vars(run) | {"rate": run.rate} for run in done],
                          "floor_seconds": floors[fmt]}
                    for fmt, done in runs.items() if done})
    result["imports"] = imports
    result["loadavg_at_end"] = os.getloadavg()
    return result


def run_baselines(data: Dataset, answer: dict, args: argparse.Namespace, api) -> dict:
    """Both baselines and the API's 90-day query, timed in turn in one loop: whatever else
    the (shared) machine is doing then weighs on all three alike, so the ratios hold even
    when the absolute times drift."""
    dates = date_range(data.end, 90)
    start, end = dt.date.fromisoformat(dates["startDate"]), dt.date.fromisoformat(dates["endDate"])
    tz, repeat = data.spec.timezone, max(1, min(args.repeat, args.baseline_repeat))
    log("Baselines: loading raw_events into DuckDB and the Parquet export into pandas ...")
    raw = baselines.RawSql(data.parquet, args.workdir / f"raw-{data.label}-{data.labelers}l.duckdb")
    t0 = time.perf_counter()
    frame = baselines.pandas_read(data.parquet)
    read_ms = (time.perf_counter() - t0) * 1000
    contenders = {"raw_sql": lambda: raw.stats(start, end, tz),
                  "pandas": lambda: baselines.pandas_stats(frame, start, end, tz)}
    out: dict = {}
    try:
        for key, compute in contenders.items():  # warm-up, and the answer to check
            diff = baselines.differences(answer, compute())
            out[key] = {"ms": [], "api_ms": [], "matches": not diff, "differences": diff}
            log(f"  {key} answer matches the API's: {'yes' if not diff else 'no'}")
            for line in diff:
                log(f"  [red]differs[/red]: {line}")
        log(f"Timing the API and both baselines, {repeat} rounds ...")
        for _ in range(repeat):
            for key, compute in contenders.items():
                out[key]["api_ms"].append(api())
                t0 = time.perf_counter()
                compute()
                out[key]["ms"].append((time.perf_counter() - t0) * 1000)
    finally:
        raw.close()
    out["raw_sql"]["disk_bytes"] = raw.disk_bytes
    out["pandas"]["read_ms"] = read_ms
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir.chmod(0o755)
    out = {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
           "backend": args.backend, "repeat": args.repeat, "sizes": []}
    if args.backend == "postgresql" and args.database:
        cluster = contextlib.nullcontext(args.database)
    elif args.backend == "postgresql":
        cluster = postgres_cluster(args.workdir)
    else:
        cluster = contextlib.nullcontext(None)
    log(f"Measuring {out['machine']['source']} (sha256 {out['machine']['source_sha256']}, "
        f"git {out['machine']['git_head']})")
    with cluster as admin_url:
        for n in args.sizes:
            log(f"[bold]{size_label(n)} events on {args.backend}[/bold]")
            out["sizes"].append(run_size(n, args, admin_url))
            args.out.write_text(json.dumps(out, indent=1, default=str))
    report.render(out["sizes"], console)
    for r in out["sizes"]:
        for key, b in r.get("baselines", {}).items():
            console.print(f"{r['label']} {key} baseline answer matches: {'yes' if b['matches'] else 'no'}")
    md = args.out.with_suffix(".md")
    md.write_text(report.markdown(out["sizes"]) + "\n")
    console.print(f"Results: {args.out} (raw samples) and {md} (Markdown table)")


if __name__ == "__main__":
    main()
