"""Reference data: project names and types, labeler names and emails (scope `admin`)."""

from __future__ import annotations

from fastapi import APIRouter, Path

from annotation_insights.api.deps import AdminKey, DatabaseDep, ReadKey
from annotation_insights.api.schemas import LabelerIn, LabelerOut, ProjectIn, ProjectOut
from annotation_insights.errors import BadRequest
from annotation_insights.events.schema import PROJECT_SLUG
from annotation_insights.tenancy import reference

router = APIRouter(tags=["reference data"])

LabelerId = Path(min_length=1, max_length=256)


@router.put("/{workspace}/projects/{slug}", response_model=ProjectOut)
def put_project(workspace: str, slug: str, body: ProjectIn, key: AdminKey, db: DatabaseDep) -> dict:
    if not PROJECT_SLUG.fullmatch(slug):
        raise BadRequest(f"Invalid project slug {slug!r}: it must match ^[a-z0-9][a-z0-9._-]{{0,99}}$.")
    return reference.put_project(db, key.workspace, slug, body.name, body.type)


@router.get("/{workspace}/projects", response_model=list[ProjectOut])
def list_projects(workspace: str, key: ReadKey, db: DatabaseDep) -> list[dict]:
    return reference.list_projects(db, key.workspace)


@router.put("/{workspace}/labelers/{labeler_id}", response_model=LabelerOut)
def put_labeler(workspace: str, body: LabelerIn, key: AdminKey, db: DatabaseDep,
                labeler_id: str = LabelerId) -> dict:
    return reference.put_labeler(db, key.workspace, labeler_id, body.displayName, body.email,
                                 body.system)


@router.get("/{workspace}/labelers", response_model=list[LabelerOut])
def list_labelers(workspace: str, key: ReadKey, db: DatabaseDep) -> list[dict]:
    return reference.list_labelers(db, key.workspace)
