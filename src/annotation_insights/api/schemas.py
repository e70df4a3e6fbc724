"""Response and request shapes, for the OpenAPI document at /docs.

Handlers build plain dicts (shaped in `metrics.definitions`) and return them as JSON;
these models describe the wire format so clients and schema-driven tests can rely on it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    index: int | None = None
    field: str | None = None
    message: str


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorResponse(BaseModel):
    error: ErrorBody


class StatsRow(BaseModel):
    projectId: str
    projectName: str
    projectType: str
    labelerId: str
    workspaceId: str
    imagesLabeled: int
    boxesDrawn: int
    markedNull: int
    modelAssisted: int
    approved: int
    rejected: int
    approvalRate: float | None
    netBoxesAdded: int
    netBoxesUpdated: int
    boxesAdded: int
    boxesRemoved: int
    boxesUpdated: int


class Labeler(BaseModel):
    id: str
    displayName: str
    email: str | None


class Meta(BaseModel):
    notices: list[str]


class Totals(BaseModel):
    numImagesLabeled: int
    numBoxesDrawn: int
    numImagesMarkedNull: int
    totalImagesUsingModelAssist: int
    numBoxesAdded: int
    numBoxesRemoved: int
    numBoxesUpdated: int
    netBoxesAdded: int
    netBoxesUpdated: int
    approvalRate: float | None


class StatsResponse(BaseModel):
    data: list[StatsRow]
    labelers: list[Labeler]
    meta: Meta
    stats: Totals


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int


class EventIn(BaseModel):
    """One SPEC §3 event. Unknown fields are ignored."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=128)
    type: Literal["annotation.created", "annotation.updated", "annotation.deleted",
                  "image.marked_null", "image.model_assisted", "image.approved", "image.rejected"]
    time: str = Field(description="RFC 3339 with offset, e.g. 2024-03-01T10:00:00Z")
    project: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")
    image: str
    labeler: str
    annotation: str | None = None
    session: str | None = None
    modelAssisted: bool | None = None
    reviewer: str | None = None
    # "class" is a Python keyword, hence the alias.
    class_: str | None = Field(default=None, alias="class")


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=256)
    type: str = Field(default="object-detection", min_length=1, max_length=64)


class ProjectOut(BaseModel):
    slug: str
    name: str
    type: str


class LabelerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    displayName: str = Field(min_length=1, max_length=256)
    email: str | None = Field(default=None, max_length=320)
    system: bool = False


class LabelerOut(BaseModel):
    id: str
    displayName: str
    email: str | None
    system: bool


class WorkspaceOfKey(BaseModel):
    workspace: str


class Health(BaseModel):
    status: Literal["ok"]
    backend: str
    version: str
