"""Service-level routes: health, and the key → workspace lookup Roboflow clients use."""

from __future__ import annotations

from fastapi import APIRouter

from annotation_insights import __version__
from annotation_insights.api.deps import AnyKey, DatabaseDep
from annotation_insights.api.schemas import Health, WorkspaceOfKey

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
def health(db: DatabaseDep) -> dict:
    db.read("SELECT 1")
    return {"status": "ok", "backend": db.dialect.name, "version": __version__}


@router.post("/", response_model=WorkspaceOfKey)
def workspace_of_key(key: AnyKey) -> dict:
    """The workspace an API key belongs to (what Roboflow's clients call first)."""
    return {"workspace": key.workspace.slug}
