"""Ingest: validate a batch, store its new events and maintain the rollups, atomically.

The whole batch is one transaction: the new events are found by inserting them with
`ON CONFLICT DO NOTHING` (so re-sent ids are no-ops, first write wins), and only those
feed the rollups. A 2xx is returned by the caller only after `ingest` returns, i.e.
after the commit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from annotation_insights.errors import InvalidEvents, PayloadTooLarge
from annotation_insights.events.schema import Event, EventError, validate_event
from annotation_insights.metrics.definitions import Facts, event_key, session_facts
from annotation_insights.store import queries as q
from annotation_insights.store.database import Database, Transaction
from annotation_insights.tenancy.workspaces import Workspace

MAX_REPORTED_ERRORS = 1000


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int

    def body(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates}


def validate_batch(raw_events: list[Any], *, max_events: int = 10_000,
                   future_tolerance_hours: int = 24) -> list[Event]:
    if len(raw_events) > max_events:
        raise PayloadTooLarge(f"A batch holds at most {max_events} events; this one has "
                              f"{len(raw_events)}. Split it into smaller batches.")
    latest = int((time.time() + future_tolerance_hours * 3600) * 1_000_000)
    events: list[Event] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_events):
        try:
            events.append(validate_event(raw, latest_time_us=latest,
                                         future_hours=future_tolerance_hours))
        except EventError as exc:
            errors.append({"index": index, "field": exc.field, "message": exc.message})
    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        raise InvalidEvents(
            f"{len(errors)} of {len(raw_events)} events are invalid; nothing was stored.",
            details=shown)
    return events


def ingest(db: Database, workspace: Workspace, events: list[Event]) -> IngestResult:
    """Store the batch's new events and their rollups in one transaction."""
    with db.transaction() as tx:
        return ingest_in(tx, workspace, events)


def ingest_in(tx: Transaction, workspace: Workspace, events: list[Event]) -> IngestResult:
    """`ingest` inside the caller's transaction, so connectors can commit their own state
    (what a tool last sent, how far an import got) atomically with the events."""
    if not events:
        return IngestResult(accepted=0, duplicates=0)
    unique: dict[str, Event] = {}
    for event in events:
        unique.setdefault(event.id, event)
    keyed = {event_key(event_id): event for event_id, event in unique.items()}
    tx.lock_workspace(workspace.id)
    params = {"workspace_id": workspace.id}
    new_keys = tx.insert_new_events(workspace.id, [_event_row(k, e) for k, e in keyed.items()])
    new_events = [e for k, e in keyed.items() if k in new_keys]
    if new_events:
        _ensure_placeholders(tx, workspace.id, new_events)
        _apply_rollups(tx, params, new_events, workspace.timezone)
    return IngestResult(accepted=len(new_events), duplicates=len(events) - len(new_events))


def _ensure_placeholders(tx: Transaction, workspace_id: int, events: list[Event]) -> None:
    """Projects and labelers first seen in these events get placeholder names (SPEC §3)."""
    names = {(workspace_id, e.project, e.labeler) for e in events} - tx.known_names
    if not names:
        return
    tx.stage("stage_names", q.STAGE_NAMES, sorted((project, labeler) for _, project, labeler in names))
    tx.execute(q.INSERT_PLACEHOLDER_PROJECTS, {"workspace_id": workspace_id})
    tx.execute(q.INSERT_PLACEHOLDER_LABELERS, {"workspace_id": workspace_id})
    tx.after_commit(lambda: tx.known_names.update(names))


def _event_row(key: tuple[int, int], e: Event) -> tuple:
    return (*key, e.id, e.type, e.time_us, e.project, e.image, e.labeler, e.annotation,
            e.session, e.model_assisted, e.reviewer, e.class_)


def _apply_rollups(tx: Transaction, params: dict, events: list[Event], timezone: str) -> None:
    facts = session_facts(events, timezone)
    if facts.sessions:
        _apply_session_facts(tx, params, facts)
    if facts.reviews:
        tx.stage("stage_review_days", q.STAGE_REVIEW_DAYS, [
            (project, labeler, day, approved, rejected)
            for (project, labeler, day), (approved, rejected) in facts.reviews.items()])
        tx.execute(q.UPSERT_REVIEW_DAYS, params)


def _apply_session_facts(tx: Transaction, params: dict, facts: Facts) -> None:
    """Upsert sessions first: their stored dates decide the dates of the fact rows."""
    tx.stage("stage_sessions", q.STAGE_SESSIONS, [
        (key, s.project, s.labeler, s.explicit, s.first_time_us, s.session_date,
         s.boxes_added, s.boxes_removed, s.boxes_updated)
        for key, s in facts.sessions.items()])
    explicit_before = {}
    if any(s.explicit for s in facts.sessions.values()):
        explicit_before = dict(tx.execute(q.SELECT_EXPLICIT_SESSION_DATES, params))
    dates = dict(tx.execute(q.UPSERT_SESSIONS, params))
    moved = [(key, dates[key]) for key, before in explicit_before.items() if dates[key] < before]
    if moved:
        tx.stage("stage_moved_sessions", q.STAGE_MOVED_SESSIONS, moved)
        tx.execute(q.MOVE_SESSION_IMAGES, params)
        tx.execute(q.MOVE_SESSION_ANNOTATIONS, params)
    tx.stage("stage_session_images", q.STAGE_SESSION_IMAGES, [
        (key, image, f.project, f.labeler, dates[key], f.labeled, f.marked_null, f.model_assisted)
        for (key, image), f in facts.images.items()])
    tx.stage("stage_session_annotations", q.STAGE_SESSION_ANNOTATIONS, [
        (key, annotation, dates[key], created, deleted)
        for (key, annotation), (created, deleted) in facts.annotations.items()])
    bounds = {**params, "first_date": min(dates.values()), "last_date": max(dates.values())}
    for statement in (*q.MERGE_SESSION_IMAGES, *q.MERGE_SESSION_ANNOTATIONS):
        tx.execute(statement, bounds)
    tx.execute(q.REFRESH_SESSION_COUNTS, bounds)
