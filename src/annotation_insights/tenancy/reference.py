"""Projects and labelers: names for the ids events carry (SPEC §3 reference data)."""

from __future__ import annotations

from annotation_insights.errors import BadRequest
from annotation_insights.store.queries import tenancy as tenancy_sql
from annotation_insights.store.database import Database
from annotation_insights.tenancy.workspaces import Workspace
from annotation_insights.events.schema import has_control_characters


def _plain(what: str, value: str | None) -> None:
    """Names are shown in tables and CSV files, and PostgreSQL cannot store a NUL."""
    if value is not None and has_control_characters(value):
        raise BadRequest(f"A {what} must not contain control characters.")


def put_project(db: Database, workspace: Workspace, slug: str, name: str, type_: str) -> dict:
    _plain("project name", name)
    _plain("project type", type_)
    with db.transaction() as tx:
        tx.execute(tenancy_sql.UPSERT_PROJECT, {"workspace_id": workspace.id, "slug": slug,
                                      "name": name, "type": type_})
    return {"slug": slug, "name": name, "type": type_}


def list_projects(db: Database, workspace: Workspace) -> list[dict]:
    return [{"slug": slug, "name": name, "type": type_}
            for slug, name, type_ in db.read_reference(tenancy_sql.SELECT_PROJECTS,
                                                        {"workspace_id": workspace.id})]


def put_labeler(db: Database, workspace: Workspace, labeler_id: str, display_name: str,
                email: str | None, system: bool) -> dict:
    _plain("labeler id", labeler_id)
    _plain("labeler display name", display_name)
    _plain("labeler email", email)
    with db.transaction() as tx:
        tx.execute(tenancy_sql.UPSERT_LABELER, {"workspace_id": workspace.id, "id": labeler_id,
                                      "display_name": display_name, "email": email,
                                      "is_system": system})
    return {"id": labeler_id, "displayName": display_name, "email": email, "system": system}


def list_labelers(db: Database, workspace: Workspace) -> list[dict]:
    return [{"id": i, "displayName": n, "email": e, "system": s}
            for i, n, e, s in db.read_reference(tenancy_sql.SELECT_LABELERS, {"workspace_id": workspace.id})]
