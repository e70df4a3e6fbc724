"""Label Studio webhook latency through a real server (not a test: prints numbers).

Replays the recorded Label Studio 1.23.2 deliveries ROUNDS times against a fresh store
(a DuckDB file, or DATABASE: an empty PostgreSQL database's URL), each round with new
annotation ids so every delivery does real work, and prints the answer times Label
Studio would wait for (it gives up after 1 s): the first round's slowest (a server just
started, paying any first-use costs), then p50 / p99 / max of all.

    .venv/bin/python bench/webhook_latency.py [ROUNDS] [DATABASE]
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from annotation_insights.store import open_database
from annotation_insights.tenancy.keys import create_key
from annotation_insights.tenancy.workspaces import create_workspace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support.servers import free_port, wait_healthy  # noqa: E402

DELIVERIES = ROOT.parent / "shared" / "fixtures" / "label-studio-1.23.2" / "webhooks.ndjson"


def main(rounds: int, database: str | None) -> None:
    deliveries = [json.loads(line) for line in DELIVERIES.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as workdir:
        path = database or str(Path(workdir) / "webhooks.duckdb")
        with open_database(path) as db:
            key = create_key(db, create_workspace(db, "acme"), ["write"]).key
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "annotation_insights", "--database", path,
                                   "serve", "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        timings = []
        try:
            wait_healthy(url)
            with httpx.Client(base_url=url) as http:
                for round_ in range(rounds):
                    for delivery in deliveries:
                        body = copy.deepcopy(delivery["body"])
                        for annotation in body.get("annotations") or [body.get("annotation") or {}]:
                            if "id" in annotation:
                                annotation["id"] = annotation["id"] % 1000 + 1000 * (round_ + 1)
                        start = time.perf_counter()
                        answer = http.post("/acme/integrations/label-studio",
                                           params={"api_key": key}, json=body)
                        timings.append(time.perf_counter() - start)
                        answer.raise_for_status()
        finally:
            server.terminate()
            server.wait()
    first = max(timings[:len(deliveries)])
    timings.sort()
    n = len(timings)
    print(f"{n} deliveries: first round {first * 1000:.1f} ms, p50 {timings[n // 2] * 1000:.1f} ms, "
          f"p99 {timings[int(n * 0.99)] * 1000:.1f} ms, max {timings[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200, sys.argv[2] if len(sys.argv) > 2 else None)
