"""Running the HTTP server, and loading the demo workspace it can show."""

from __future__ import annotations

import os
import signal
import sys
from itertools import islice

import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from annotation_insights.errors import BadRequest
from annotation_insights.settings import Settings
from annotation_insights.store.database import Database

DEMO_BATCH = 5_000


def run_server(settings: Settings, *, host: str, port: int, workers: int) -> None:
    from annotation_insights.api.app import create_app
    from annotation_insights.store import open_configured

    is_postgres = settings.database.startswith(("postgresql://", "postgres://"))
    if workers > 1 and not is_postgres:
        raise BadRequest("--workers above 1 needs PostgreSQL (--database postgresql://...): "
                         "an embedded DuckDB file is opened by one process only.")
    common = {"host": host, "port": port, "proxy_headers": False, "server_header": False,
              "timeout_graceful_shutdown": 30}
    _stop_cleanly_on_sigterm()
    # The store is opened (and migrated) here, before uvicorn starts: a file in use or an
    # unreachable server is then one clear error line, not a traceback from the app's startup.
    db = open_configured(settings)
    if workers > 1:
        db.close()
        os.environ["ANNOTATION_INSIGHTS_DATABASE"] = settings.database
        uvicorn.run("annotation_insights.api.app:create_app", factory=True, workers=workers, **common)
        return
    with db:
        uvicorn.run(create_app(settings, db), **common)


def _stop_cleanly_on_sigterm() -> None:
    """Make `kill PID` (systemd, Docker, CI) a clean stop with exit code 0.

    uvicorn shuts down gracefully on SIGTERM and then re-raises the signal to the handler it
    found; with the default handler the process would die "killed by SIGTERM" (exit 143),
    which supervisors report as a crash. A signal that arrives before uvicorn takes over
    (while the store opens) stops the process the same way.
    """
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))


def load_demo(db: Database, slug: str, *, progress: Console) -> str:
    """Create and fill the demo workspace (once) and return a fresh read key for it."""
    import datetime as dt

    from annotation_insights.demo.generator import (
        DemoSpec, demo_labelers, demo_projects, estimate_events, generate_events)
    from annotation_insights.events.ingest import ingest, validate_batch
    from annotation_insights.errors import NotFound
    from annotation_insights.tenancy.keys import create_key
    from annotation_insights.tenancy.reference import put_labeler, put_project
    from annotation_insights.tenancy.workspaces import create_workspace, get_workspace

    try:
        workspace = get_workspace(db, slug)
        progress.print(f"Workspace {slug} already exists; serving it as it is.")
    except NotFound:
        spec = DemoSpec(end=dt.date.today())
        workspace = create_workspace(db, slug, name="Demo Vision Team", timezone=spec.timezone)
        for p in demo_projects(spec):
            put_project(db, workspace, p["slug"], p["name"], p["type"])
        for lab in demo_labelers(spec):
            put_labeler(db, workspace, lab["id"], lab["displayName"], lab["email"], lab["system"])
        events = generate_events(spec)
        columns = (TextColumn("Loading demo events"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=progress, transient=True) as bar:
            task = bar.add_task("load", total=estimate_events(spec))
            while batch := list(islice(events, DEMO_BATCH)):
                ingest(db, workspace, validate_batch(batch, max_events=DEMO_BATCH))
                bar.advance(task, len(batch))
    return create_key(db, workspace, ["read"]).key
