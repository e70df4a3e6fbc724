"""A process exits cleanly however its worker threads end (the embedded store).

Request handlers run in worker threads (anyio's, under a server or a test client) that
call the batch engine and read the DuckDB store. A pool that is shut down at exit ends
its threads while the interpreter finalizes; a DuckDB connection released by such a
thread aborted the whole process (exit 134, "terminate called ... exception not
rethrown") in about one run in three. The child below is that situation, with a slow
finalization to widen the window, run several times.
"""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import atexit, contextlib, sys
import anyio, anyio.to_thread
import pyarrow as pa
from anyio.from_thread import start_blocking_portal
from annotation_insights.events import engine
from annotation_insights.store import open_database

db = open_database(sys.argv[1])
stack = contextlib.ExitStack()
portal = stack.enter_context(start_blocking_portal())
atexit.register(stack.close)  # as a library keeping one portal for the process does
batch = pa.table({"x": [1, 2, 3]})

def handler():
    engine.run("SELECT sum(x) FROM batch", batch=batch)
    db.read("SELECT count(*) FROM workspaces")

async def requests():
    async with anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(anyio.to_thread.run_sync, handler)

portal.call(requests)
db.close()
HEAP = [{"n": i} for i in range(1_500_000)]
"""
RUNS = 10


def test_worker_threads_ending_at_exit_do_not_abort_the_process(tmp_path):
    # The runs are independent processes: started together, they share the machine's cores.
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / f"store-{run}.duckdb")],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for run in range(RUNS)]
    for run, child in enumerate(children):
        _, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, f"run {run}: exit {child.returncode}\n{stderr[-2000:]}"
