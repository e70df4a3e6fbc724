"""The results table: one row per figure, median and p95, the issue's target and a verdict.

A target that names a size (e.g. "at 10M") is judged only at that size; at other sizes the
verdict is shown in parentheses as an indication, not a result. For throughput rows "p95"
is the rate that 95% of the measuring windows reached (the slow tail), so for every row the
p95 column is the worse side.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from bench.queries import percentile

M = 1_000_000


@dataclass
class Row:
    size: str
    backend: str
    measure: str
    median: str
    p95: str
    target: str = ""
    verdict: str = ""
    note: str = ""


def judge(ok: bool, at: int | None, size: int) -> str:
    word = "PASS" if ok else "MISS"
    return word if at is None or at == size else f"({word})"


def fmt_ms(v: float) -> str:
    return f"{v:,.1f} ms" if v < 100 else f"{v:,.0f} ms"


def fmt_rate(v: float) -> str:
    return f"{v:,.0f}/s"


def rows_for_size(r: dict) -> list[Row]:
    n, size, backend = r["dataset"]["requested"], r["label"], r["backend"]
    if abs(r["dataset"]["events"] - n) > 0.05 * n:  # the generator's floor: ~111k events at 200 labelers
        size = f"{size} (made {r['dataset']['events']:,})"
    if r["dataset"].get("arrival", "time") != "time":
        size = f"{size}, {r['dataset']['arrival']} order"
    if r["dataset"].get("ids", "short") != "short":
        size = f"{size}, {r['dataset']['ids']} ids"
    out: list[Row] = []

    def add(measure, median, p95, target="", verdict="", note=""):
        out.append(Row(size, backend, measure, median, p95, target, verdict, note))

    ing = r.get("ingest")
    if ing:
        rates = ing["window_rates"]
        med = statistics.median(rates) if rates else 0.0
        sent = " as JSON lists" if ing.get("body") == "json" else ""
        shape = (ing.get("batch", 5_000), ing.get("clients", 4))
        target = shape == (5_000, 4)  # the target's shape; any other is for comparison
        add(f"HTTP ingest ({shape[0]:,}/batch, {shape[1]} clients{sent})", fmt_rate(med),
            fmt_rate(percentile(rates, 5)), "≥ 100,000/s" if target else "",
            judge(med >= 100_000, None, n) if target else "",
            f"{ing['events']:,} events in {ing['seconds']:.0f} s; {len(ing['errors'])} failed requests"
            + (f"; request p50 {fmt_ms(statistics.median(ing['request_ms']))}" if ing["request_ms"] else ""))
    for fmt in ("ndjson", "parquet"):
        imp = r.get("imports", {}).get(fmt)
        name = fmt.upper() if fmt == "ndjson" else "Parquet"
        label = f"bulk import {name}"
        if imp is None:
            continue
        if imp.get("missing") or imp.get("skipped"):
            add(label, "n/a (import command missing)" if imp.get("missing")
                else f"not measured ({imp['skipped']})", "")
            continue
        runs = imp.get("runs", [imp])  # result files before `--import-repeat` hold one run
        failed = [run for run in runs if not run["ok"]]
        if failed:
            add(label, "failed", "", note=failed[0]["output"][-200:])
        else:
            rates = [run["rate"] for run in runs]
            med = statistics.median(rates)
            own = statistics.median(run["reported_rate"] or 0 for run in runs)
            add(label, fmt_rate(med), fmt_rate(percentile(rates, 5)), "≥ 500,000/s",
                judge(med >= 500_000, None, n),
                f"{len(runs)} run{'' if len(runs) == 1 else 's'} of the whole command, "
                f"{runs[0]['events']:,} events in {statistics.median(run['seconds'] for run in runs):.0f} s "
                f"(the command's own figure {fmt_rate(own)})")
            if imp.get("floor_seconds"):
                floor = [runs[0]["events"] / seconds for seconds in imp["floor_seconds"]]
                add(f"baseline: DuckDB's own load of the {name} file", fmt_rate(statistics.median(floor)),
                    fmt_rate(percentile(floor, 5)), "", "",
                    f"ours at {med / statistics.median(floor):.0%} of its rate; one `CREATE TABLE AS` "
                    "over DuckDB's reader in a process of its own: no checks, ids or rollups; "
                    f"{len(floor)} run{'' if len(floor) == 1 else 's'}, each right after ours")
    queries = r.get("queries", {})
    for name, t in queries.items():
        if t.get("error"):
            add(f"GET {name}", "error", "", note=t["error"][:200])
            continue
        med, p95 = statistics.median(t["ms"]), percentile(t["ms"], 95)
        target, verdict = "", ""
        if name == "stats 90d":
            if n >= 50 * M:
                target, verdict = "p50 ≤ 250 ms (50M)", judge(med <= 250, 50 * M, n)
            else:
                target, verdict = "p50 ≤ 50, p95 ≤ 150 ms (10M)", judge(med <= 50 and p95 <= 150, 10 * M, n)
        add(f"GET {name}", fmt_ms(med), fmt_ms(p95), target, verdict,
            f"{t['rows']} row{'' if t['rows'] == 1 else 's'} in the answer")
    if r.get("timeseries_missing"):
        add("GET timeseries 90d day", "n/a (timeseries route missing)", "")
    ours = statistics.median(queries["stats 90d"]["ms"]) if queries.get("stats 90d", {}).get("ms") else None
    for key, label, target_ratio in (("raw_sql", "baseline: one SQL over raw_events (DuckDB)", 20),
                                     ("pandas", "baseline: pandas on the Parquet export", None)):
        b = r.get("baselines", {}).get(key)
        if not b:
            continue
        med, p95 = statistics.median(b["ms"]), percentile(b["ms"], 95)
        paired = statistics.median(b["api_ms"]) if b.get("api_ms") else ours
        ratio = med / paired if paired else float("nan")
        match = "answer matches: " + ("yes" if b["matches"] else "NO")
        extra = f"; read Parquet {fmt_ms(b['read_ms'])}" if b.get("read_ms") else ""
        add(f"{label}, 90d", fmt_ms(med), fmt_ms(p95),
            f"ours ≥ {target_ratio}× faster (10M)" if target_ratio else "",
            judge(ratio >= target_ratio, 10 * M, n) if target_ratio else "",
            f"ours {ratio:,.1f}× faster (API {fmt_ms(paired)} in the same loop); {match}; "
            f"{len(b['ms'])} runs{extra}")
    if r.get("rss_bytes"):
        gb = r["rss_bytes"] / 2**30
        add("server peak RSS (VmHWM)", f"{gb:.2f} GiB", "", "≤ 1.5 GB", judge(r["rss_bytes"] <= 1.5e9, None, n),
            "API process only" + ("; PostgreSQL's own processes not counted" if backend == "postgresql" else ""))
    if r.get("disk_bytes"):
        per = r["disk_bytes"] / r["dataset"]["events"]
        add("on-disk bytes per event", f"{per:,.1f} B", "", "≤ 60 B", judge(per <= 60, None, n),
            f"{r['disk_bytes'] / 2**20:,.0f} MiB " + ("(file + .wal, after shutdown)" if backend == "duckdb"
                                                     else "(pg_database_size)"))
    return out


def growth_rows(results: list[dict]) -> list[Row]:
    """How the 7-day query grows from the smallest to the largest size measured."""
    done = [r for r in results if r.get("queries", {}).get("stats 7d", {}).get("ms")]
    if len(done) < 2:
        return []
    small, big = min(done, key=lambda r: r["dataset"]["requested"]), max(done, key=lambda r: r["dataset"]["requested"])
    ratio = statistics.median(big["queries"]["stats 7d"]["ms"]) / statistics.median(small["queries"]["stats 7d"]["ms"])
    exact = small["dataset"]["requested"] == M and big["dataset"]["requested"] == 50 * M
    verdict = "PASS" if ratio <= 2 else "MISS"
    return [Row(f"{small['label']}→{big['label']}", big["backend"], "GET stats 7d growth (p50)", f"{ratio:.2f}×", "",
                "≤ 2× (1M→50M)", verdict if exact else f"({verdict})")]


def render(results: list[dict], console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="Annotation Insights benchmark", show_lines=False)
    for col in ("size", "backend", "measure", "median", "p95", "target", "verdict", "note"):
        table.add_column(col, overflow="fold", no_wrap=col in ("median", "p95", "verdict"))
    for r in results:
        for row in rows_for_size(r):
            style = "red" if "MISS" in row.verdict or "NO" in row.note else None
            table.add_row(row.size, row.backend, row.measure, row.median, row.p95, row.target,
                          row.verdict, row.note, style=style)
        table.add_section()
    for row in growth_rows(results):
        table.add_row(row.size, row.backend, row.measure, row.median, row.p95, row.target, row.verdict, row.note)
    console.print(table)


def markdown(results: list[dict]) -> str:
    """The same rows as a Markdown table, for docs/performance.md."""
    lines = ["| size | backend | measure | median | p95 | target | verdict | note |",
             "|---|---|---|---|---|---|---|---|"]
    rows = [row for r in results for row in rows_for_size(r)] + growth_rows(results)
    for row in rows:
        cells = (row.size, row.backend, row.measure, row.median, row.p95, row.target, row.verdict, row.note)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
