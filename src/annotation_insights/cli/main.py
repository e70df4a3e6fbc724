"""`annotation-insights`: run the server, manage workspaces and keys, query stats, demo.

Commands open the store named by `--database` / `ANNOTATION_INSIGHTS_DATABASE`
directly; every failure is printed as one plain sentence on stderr with exit code 1.
"""

from __future__ import annotations

import functools
import gc
import json
import sys
from enum import Enum
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.text import Text

from annotation_insights.errors import ApiError
from annotation_insights.settings import DEFAULT_DATABASE, Settings
from annotation_insights.store import open_configured

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Annotation Insights: what your labelers did, per project and labeler.")
workspace_app = typer.Typer(no_args_is_help=True, help="Create and list workspaces.")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
app.add_typer(workspace_app, name="workspace")
app.add_typer(keys_app, name="keys")

# No markup: workspace names, labeler ids and messages quoting user input print verbatim
# (a name like "Acme [/x]" must not crash the command). soft_wrap: a message is one line
# however narrow the terminal, or a pipe's default 80 columns.
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
out = Console(highlight=False, soft_wrap=True, markup=False)


class State:
    database: str = DEFAULT_DATABASE


state = State()


@app.callback()
def main_options(database: Annotated[str, typer.Option(
        "--database", envvar="ANNOTATION_INSIGHTS_DATABASE",
        help="DuckDB file path (embedded, default) or postgresql:// URL.")] = DEFAULT_DATABASE) -> None:
    state.database = database


def reports_errors(command):
    """Turn the product's errors into one clear line and exit code 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ApiError as exc:
            err.print(Text.assemble(("error: ", "bold red"), exc.message))
            for detail in exc.details[:20]:
                where = detail.get("field") or detail.get("index")
                err.print(f"  {where}: {detail.get('message')}")
            raise typer.Exit(1) from None
    return wrapper


def settings() -> Settings:
    return Settings(database=state.database)


def database(*, bulk_load: bool = False):
    return open_configured(settings(), bulk_load=bulk_load)


# --- workspaces and keys -------------------------------------------------------------

@workspace_app.command("create")
@reports_errors
def workspace_create(slug: str, name: Annotated[Optional[str], typer.Option(help="Display name.")] = None,
                     timezone: Annotated[str, typer.Option(help="IANA timezone for local dates.")] = "UTC") -> None:
    """Create a workspace."""
    from annotation_insights.tenancy.workspaces import create_workspace

    with database() as db:
        ws = create_workspace(db, slug, name=name, timezone=timezone)
    out.print(f"Created workspace {ws.slug} ({ws.name}, timezone {ws.timezone}).")


@workspace_app.command("list")
@reports_errors
def workspace_list() -> None:
    """List workspaces, one tab-separated line each (slug, name, timezone) for scripts."""
    from annotation_insights.tenancy.workspaces import list_workspaces

    with database() as db:
        for ws in list_workspaces(db):
            print(f"{ws.slug}\t{ws.name}\t{ws.timezone}")


class Scope(str, Enum):
    read = "read"
    write = "write"
    admin = "admin"


@keys_app.command("create")
@reports_errors
def keys_create(slug: str, scope: Annotated[Optional[list[Scope]], typer.Option(
        "--scope", help="read, write or admin; repeat for several (default: all three).")] = None) -> None:
    """Create an API key; the key is printed once, alone on the last line."""
    from annotation_insights.tenancy.keys import create_key
    from annotation_insights.tenancy.workspaces import get_workspace

    with database() as db:
        created = create_key(db, get_workspace(db, slug), [s.value for s in scope] if scope else None)
    out.print(f"Created key {created.id} for workspace {slug} with scopes {', '.join(created.scopes)}. "
              "Store it now: it is not shown again.")
    print(created.key)


@keys_app.command("revoke")
@reports_errors
def keys_revoke(key_id_or_prefix: str) -> None:
    """Revoke a key by its id (or the key, or a prefix of either)."""
    from annotation_insights.tenancy.keys import revoke_key

    with database() as db:
        key_id, slug = revoke_key(db, key_id_or_prefix)
    out.print(f"Revoked key {key_id} of workspace {slug}.")


@keys_app.command("list")
@reports_errors
def keys_list(slug: str) -> None:
    """List a workspace's keys, tab-separated (ids and scopes only; keys are never stored)."""
    from annotation_insights.store.queries import tenancy as tenancy_sql
    from annotation_insights.tenancy.workspaces import get_workspace

    with database() as db:
        ws = get_workspace(db, slug)
        keys = db.read(tenancy_sql.SELECT_KEYS_OF_WORKSPACE, {"workspace_id": ws.id})
        for key_id, scopes, created, revoked in keys:
            status = f"revoked {revoked:%Y-%m-%d %H:%M}" if revoked else "active"
            print(f"{key_id}\t{scopes}\tcreated {created:%Y-%m-%d %H:%M}\t{status}")


# --- stats ---------------------------------------------------------------------------

class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command()
@reports_errors
def stats(slug: str,
          start: Annotated[str, typer.Option("--start", help="startDate, YYYY-MM-DD")],
          end: Annotated[str, typer.Option("--end", help="endDate, YYYY-MM-DD")],
          project: Annotated[Optional[str], typer.Option(help="Project slug.")] = None,
          user: Annotated[Optional[str], typer.Option(help="Labeler id (userId).")] = None,
          format: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """Print the stats answer for a date range, as GET /{workspace}/stats would."""
    from annotation_insights.cli.render import render_table
    from annotation_insights.metrics.export import rows_to_csv
    from annotation_insights.metrics.query import StatsQuery, run_stats
    from annotation_insights.tenancy.workspaces import get_workspace

    query = StatsQuery.parse(start=start, end=end, project=project, user_id=user,
                             availability=settings().availability_date)
    with database() as db:
        answer = run_stats(db, get_workspace(db, slug), query)
    if format is Format.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    elif format is Format.csv:
        sys.stdout.write(rows_to_csv(answer["data"]))
    else:
        render_table(out, answer)


# --- serving -------------------------------------------------------------------------

@app.command()
@reports_errors
def serve(host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
          workers: Annotated[int, typer.Option(help="Processes (PostgreSQL only).")] = 1) -> None:
    """Serve the API (and dashboard) over HTTP."""
    from annotation_insights.cli.serving import run_server

    run_server(settings(), host=host, port=port, workers=workers)


@app.command()
@reports_errors
def demo(host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
         port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
         slug: Annotated[str, typer.Option("--workspace", help="Demo workspace slug.")] = "demo",
         serve_it: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve after loading.")] = True) -> None:
    """Build a realistic demo workspace and serve it; prints the dashboard URL and a key."""
    from annotation_insights.cli.serving import load_demo, run_server

    with database() as db:
        key = load_demo(db, slug, progress=err)
    url = f"http://{host}:{port}/{slug}/insights"
    out.print(f"Dashboard: {url}")
    out.print(f"Stats API: http://{host}:{port}/{slug}/stats?api_key=KEY&startDate=...&endDate=...")
    out.print("Read key (paste it into the dashboard):")
    print(key, flush=True)
    if serve_it:
        run_server(settings(), host=host, port=port, workers=1)


# --- connectors (cli/connect.py, cli/imports.py) -------------------------------------

from annotation_insights.cli.connect import connect_app  # noqa: E402  (they use the helpers above)
from annotation_insights.cli.imports import import_command  # noqa: E402

app.add_typer(connect_app, name="connect")
app.command("import")(import_command)

from annotation_insights.cli.backup import backup_command, restore_command  # noqa: E402

app.command("backup")(backup_command)
app.command("restore")(restore_command)


def hoist_database_option(argv: list[str]) -> list[str]:
    """Accept `--database` anywhere on the line, as users write it (`serve --database X`),
    by moving it before the command, where the option is defined once for all commands."""
    hoisted, rest, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--database" and i + 1 < len(argv):
            hoisted += argv[i:i + 2]
            i += 2
            continue
        (hoisted if arg.startswith("--database=") else rest).append(arg)
        i += 1
    return hoisted + rest


def main() -> None:
    # The modules loaded so far live until the process ends, so the collector need not
    # walk them: during an import each full collection did (~0.15 s over 1M events), and
    # the interpreter's last one at exit took another ~0.15 s.
    gc.freeze()
    app(args=hoist_database_option(sys.argv[1:]))
