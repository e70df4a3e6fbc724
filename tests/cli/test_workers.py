"""`serve --workers 2`: refused on a DuckDB file, two serving processes on PostgreSQL."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from .helpers import Server, assert_one_line_error, free_port, run_cli


def children(pid: int) -> list[int]:
    """Worker processes of a uvicorn parent (spawned `multiprocessing` children)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return sorted(found)


def test_serve_with_two_workers(database_url, tmp_path):
    if not database_url.startswith("postgresql://"):
        result = run_cli("serve", "--port", str(free_port()), "--workers", "2",
                         database=database_url, cwd=tmp_path, timeout=20)
        assert_one_line_error(result, "--workers", "PostgreSQL")
        return

    with Server(tmp_path, "--workers", "2", database=database_url) as server:
        workers = children(server.process.pid)
        assert len(workers) == 2, (workers, server.log())
        # Each worker answers on its own: pause one, ask, then the other.
        for paused in workers:
            os.kill(paused, signal.SIGSTOP)
            try:
                answer = httpx.get(f"{server.url}/health", timeout=20)
            finally:
                os.kill(paused, signal.SIGCONT)
            assert answer.json()["backend"] == "postgresql"
        code, seconds = server.stop()
        assert code == 0 and seconds < 8, server.log()
        assert "Traceback" not in server.log()
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
