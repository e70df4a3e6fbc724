"""`annotation-insights connect label-studio`: live webhooks plus a backfill, in one command.

By default the command opens the store itself (`--database`), creates a write-only key
for the webhook and backfills directly. While `serve` holds an embedded DuckDB file,
pass `--api-key` (scopes write and admin) and the command goes through that server's
API instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from annotation_insights.cli import main as cli
from annotation_insights.errors import BadRequest, StoreUnavailable
from annotation_insights.events.schema import PROJECT_SLUG

if TYPE_CHECKING:
    from annotation_insights.connectors.label_studio_connect import ConnectResult, LabelStudioApi

connect_app = typer.Typer(no_args_is_help=True, help="Connect a labeling tool for live events.")


@connect_app.command("label-studio")
@cli.reports_errors
def label_studio(
        url: Annotated[str, typer.Option("--url", help="Label Studio's base URL.")],
        token: Annotated[str, typer.Option("--token", envvar="LABEL_STUDIO_TOKEN",
                                           help="A Label Studio API token (legacy or personal).")],
        project: Annotated[int, typer.Option("--project", help="The Label Studio project id.")],
        workspace: Annotated[str, typer.Option("--workspace", help="Our workspace slug.")],
        public_url: Annotated[str, typer.Option(
            "--public-url", help="Our server's base URL as Label Studio reaches it.")] = "http://127.0.0.1:8000",
        api_key: Annotated[Optional[str], typer.Option(
            "--api-key", envvar="ANNOTATION_INSIGHTS_API_KEY",
            help="Go through the server at --server with this key (write+admin) instead of "
                 "opening the database.")] = None,
        server: Annotated[Optional[str], typer.Option(
            "--server", help="Our server's URL for --api-key (default: --public-url).")] = None,
        as_project: Annotated[Optional[str], typer.Option(
            "--as-project", help="Our project slug (default: label-studio-<id>).")] = None,
) -> None:
    """Register our webhook in a Label Studio project and backfill its annotations."""
    # Loaded here, not with the CLI: its HTTP client is a tenth of every command's start-up.
    from annotation_insights.connectors.label_studio_connect import HttpSink, LabelStudioApi

    if as_project is not None and not PROJECT_SLUG.fullmatch(as_project):
        raise BadRequest(f"Invalid project slug {as_project!r}: it must match ^[a-z0-9][a-z0-9._-]{{0,99}}$.")
    hook_url = f"{public_url.rstrip('/')}/{workspace}/integrations/label-studio"
    if as_project:
        hook_url += f"?project={as_project}"
    api = LabelStudioApi(url, token)
    try:
        if api_key:
            sink = HttpSink(server or public_url, api_key, workspace, as_project)
            result = _run(api, sink, project, hook_url, api_key, as_project)
        else:
            result = _direct(api, project, hook_url, workspace, as_project)
    finally:
        api.close()
    cli.out.print(f"Webhook {result.webhook}: Label Studio project {project} -> {result.webhook_url}")
    cli.out.print(f"Backfilled {result.tasks:,} tasks into project {result.project}: "
                  f"{result.accepted:,} new events; named {result.labelers} labelers.")


def _direct(api: LabelStudioApi, project: int, hook_url: str, workspace: str,
            as_project: str | None) -> ConnectResult:
    from annotation_insights.connectors.label_studio_connect import DirectSink
    from annotation_insights.tenancy.keys import create_key
    from annotation_insights.tenancy.workspaces import get_workspace

    try:
        db = cli.database()
    except StoreUnavailable as exc:
        raise StoreUnavailable(f"{exc.message} Or pass --api-key KEY (scopes write and admin) "
                               "to connect through the running server.") from None
    with db:
        ws = get_workspace(db, workspace)
        created = create_key(db, ws, ["write"])
        cli.err.print(f"Created write key {created.id} for the webhook (revoke it with "
                      f"`annotation-insights keys revoke {created.id}` to disconnect).")
        return _run(api, DirectSink(db, ws, as_project), project, hook_url, created.key, as_project)


def _run(api, sink, project: int, hook_url: str, key: str, as_project: str | None) -> ConnectResult:
    from annotation_insights.connectors.label_studio_connect import connect

    columns = (TextColumn("Backfilling tasks"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=cli.err) as bar:
        task = bar.add_task("backfill", total=None)

        def on_page(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return connect(api, sink, project_id=project, webhook_url=hook_url, webhook_key=key,
                       project_override=as_project, on_page=on_page)
