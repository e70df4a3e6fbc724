"""Ingest: validate a batch, store its new events and maintain the rollups, atomically.

The whole batch is one transaction: the store tells which events are new (re-sent ids
are no-ops, first write wins), and only those feed the rollups. A 2xx is returned by the
caller only after `ingest` returns, i.e. after the commit. The rollup deltas are derived
before the transaction starts, while another batch may be writing, and derived again
inside it only when some events turned out to be stored already.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotation_insights.errors import InvalidEvents, PayloadTooLarge
from annotation_insights.events.batch import (
    PYTHON_BATCH_MAX, EventBatch, batch_of_events, checked_batch, pairs, raw_table)
from annotation_insights.events.schema import EventError, validate_event
from annotation_insights.metrics.definitions import Facts, session_facts
from annotation_insights.store.queries import ingest as ingest_sql, tenancy as tenancy_sql
from annotation_insights.store.database import Database, Transaction
from annotation_insights.tenancy.workspaces import Workspace

MAX_REPORTED_ERRORS = 1000


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int

    def body(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates}


def latest_allowed_us(future_tolerance_hours: int = 24) -> int:
    return int((time.time() + future_tolerance_hours * 3600) * 1_000_000)


def _check_size(events: int, max_events: int) -> None:
    if events > max_events:
        raise PayloadTooLarge(f"A batch holds at most {max_events} events; this one has "
                              f"{events}. Split it into smaller batches.")


# A request body up to this size is parsed by the JSON parser for `validate_batch`: a
# typical event is ~200 bytes, so it holds about `PYTHON_BATCH_MAX` events, and reading
# it into columns (`events/ndjson.py`) would cost a batch engine statement.
PYTHON_BODY_MAX_BYTES = 48 << 10


def validate_columns(table: pa.Table, *, max_events: int = 10_000,
                     future_tolerance_hours: int = 24) -> EventBatch | None:
    """The batch if every event in the columns is valid; None sends the caller to
    `validate_batch`, which words the errors."""
    _check_size(table.num_rows, max_events)
    return checked_batch(table, latest_us=latest_allowed_us(future_tolerance_hours))


def validate_batch(raw_events: Sequence[Any], *, max_events: int = 10_000,
                   future_tolerance_hours: int = 24) -> EventBatch:
    _check_size(len(raw_events), max_events)
    latest = latest_allowed_us(future_tolerance_hours)
    table = raw_table(raw_events) if len(raw_events) > PYTHON_BATCH_MAX else None
    batch = checked_batch(table, latest_us=latest) if table is not None else None
    if batch is not None:
        return batch
    events, errors = [], []
    for index, raw in enumerate(raw_events):
        try:
            events.append(validate_event(raw, latest_time_us=latest,
                                         future_hours=future_tolerance_hours))
        except EventError as exc:
            errors.append({"index": index, "field": exc.field, "message": exc.message})
    if errors:
        raise InvalidEvents(
            f"{len(errors)} of {len(raw_events)} events are invalid; nothing was stored.",
            details=errors[:MAX_REPORTED_ERRORS])
    return batch_of_events(events)


def warm_up() -> None:
    """Pay the ingest path's one-time costs before the first request does. pyarrow
    imports pandas (when installed) on its first array and its own query engine on its
    first grouping: a cold first Label Studio webhook took 0.3-1.3 s, and Label Studio
    abandons a delivery after 1 s and never retries it."""
    batch = validate_batch([{"id": "warm-up", "type": "image.marked_null",
                             "time": "2026-01-01T00:00:00Z", "project": "warm-up",
                             "image": "warm-up", "labeler": "warm-up"}])
    pairs(batch.table)
    session_facts(batch.table, "UTC")


def ingest(db: Database, workspace: Workspace, batch: EventBatch) -> IngestResult:
    """Store the batch's new events and their rollups in one transaction, or, on a store
    with a rollup backlog (`events/backlog.py`), the events and their backlog entry."""
    backlog = db.rollup_backlog
    if backlog is not None:
        return backlog.ingest(workspace, batch)
    facts = session_facts(batch.table, workspace.timezone) if len(batch) else None
    with db.transaction() as tx:
        return ingest_in(tx, workspace, batch, facts)


def ingest_in(tx: Transaction, workspace: Workspace, batch: EventBatch,
              facts: Facts | None = None) -> IngestResult:
    """`ingest` inside the caller's transaction, so connectors can commit their own state
    (what a tool last sent, how far an import got) atomically with the events. `facts`
    are the batch's, if the caller derived them already; without them, a store with a
    rollup backlog backlogs the batch (call `catch_up_if_due` after the commit)."""
    if tx.rollup_backlog is not None and facts is None:
        return tx.rollup_backlog.store(tx, workspace, batch)
    fresh, result = insert_new_events(tx, workspace, batch)
    if len(fresh):
        if facts is None or len(fresh) < len(batch):
            facts = session_facts(fresh.table, workspace.timezone)
        ensure_placeholders(tx, workspace.id, facts.pairs())
        apply_facts(tx, workspace.id, facts)
    return result


def catch_up_if_due(db: Database) -> None:
    """After `ingest_in` committed: apply the store's rollup backlog if it is full."""
    if db.rollup_backlog is not None:
        db.rollup_backlog.catch_up_if_due()


def insert_new_events(tx: Transaction, workspace: Workspace, batch: EventBatch,
                      backlog_batch: int | None = None) -> tuple[EventBatch, IngestResult]:
    """Store the batch's events whose ids are not stored yet (the workspace locked for
    the rest of the transaction); return those events and the answer's counts."""
    if not len(batch):
        return batch, IngestResult(accepted=0, duplicates=batch.received)
    tx.lock_workspace(workspace.id)
    fresh = batch.select(tx.insert_new_events(workspace.id, batch, backlog_batch))
    return fresh, IngestResult(accepted=len(fresh), duplicates=batch.received - len(fresh))


def ensure_placeholders(tx: Transaction, workspace_id: int, seen: set[tuple[str, str]]) -> None:
    """Projects and labelers first seen in these events get placeholder names (SPEC §3)."""
    names = {(workspace_id, project, labeler) for project, labeler in seen} - tx.known_names
    if not names:
        return
    tx.stage("stage_names", tenancy_sql.STAGE_NAMES,
             sorted((project, labeler) for _, project, labeler in names))
    tx.execute(tenancy_sql.INSERT_PLACEHOLDER_PROJECTS, {"workspace_id": workspace_id})
    tx.execute(tenancy_sql.INSERT_PLACEHOLDER_LABELERS, {"workspace_id": workspace_id})
    tx.after_commit(lambda: tx.known_names.update(names))


def apply_facts(tx: Transaction, workspace_id: int, facts: Facts) -> None:
    """Merge one batch's rollup deltas into the stored rollups."""
    params = {"workspace_id": workspace_id}
    if facts.sessions.num_rows:
        _apply_session_facts(tx, params, facts)
    if facts.reviews.num_rows:
        tx.stage_table("stage_review_days", ingest_sql.STAGE_REVIEW_DAYS, facts.reviews)
        for statement in ingest_sql.MERGE_REVIEW_DAYS:
            tx.execute(statement, params)
        tx.update_statistics({"review_days": facts.reviews.num_rows})  # at most that many new


def _apply_session_facts(tx: Transaction, params: dict, facts: Facts) -> None:
    """Sessions first: a session stored before this batch dates its fact rows by its date
    once merged with the batch's (read with it, before the sessions merge). Only the
    facts of those sessions need merging with stored facts, and only their counts
    changing; a new session arrives with its counts."""
    tx.stage_table("stage_sessions", ingest_sql.STAGE_SESSIONS, facts.sessions)
    known = tx.execute(ingest_sql.SELECT_STORED_SESSIONS, params)  # (part, key, date, merged date)
    for statement in ingest_sql.MERGE_SESSIONS:
        tx.execute(statement, params)
    moved = [(key, date) for _, key, before, date in known if date < before]
    if moved:
        tx.stage("stage_moved_sessions", ingest_sql.STAGE_MOVED_SESSIONS, moved)
        tx.execute(ingest_sql.MOVE_SESSION_IMAGES, params)
        tx.execute(ingest_sql.MOVE_SESSION_ANNOTATIONS, params)
    # The batch's facts tell their session by its number in the batch (`part`).
    known_parts = pa.array([part for part, *_ in known], type=pa.int32())
    annotations = facts.annotations.append_column(
        "fact_no", pa.array(np.arange(facts.annotations.num_rows, dtype=np.int32)))
    for name, columns, table in (("stage_session_images", ingest_sql.STAGE_SESSION_IMAGES, facts.images),
                                 ("stage_session_annotations", ingest_sql.STAGE_SESSION_ANNOTATIONS,
                                  annotations)):
        known_rows = pc.is_in(table.column("part"), value_set=known_parts)
        tx.stage_table(name, columns, table.append_column("known", known_rows))
    if known:
        tx.stage("stage_session_dates", ingest_sql.STAGE_SESSION_DATES,
                 [(key, date) for _, key, _, date in known])
        merged = {**params, **tx.dialect.merge_dates(date for *_, date in known)}
        by_row = tx.dialect.merges_by_row_number
        for name, lookup, merge, form in (
                ("known_session_images", ingest_sql.LOOKUP_SESSION_IMAGES, ingest_sql.MERGE_SESSION_IMAGES,
                 by_row),
                ("known_session_annotations", ingest_sql.LOOKUP_SESSION_ANNOTATIONS,
                 ingest_sql.MERGE_SESSION_ANNOTATIONS, tx.dialect.appends_annotation_flags)):
            tx.stage_query(name, lookup[form], merged)
            for statement in merge[form]:
                tx.execute(statement, merged)
        tx.stage_query("session_count_changes", ingest_sql.SESSION_COUNT_CHANGES[by_row], params)
        tx.execute(ingest_sql.ADD_SESSION_COUNT_CHANGES[by_row], params)
    sessions = facts.sessions.num_rows
    if len(known) < sessions:
        tx.execute(ingest_sql.INSERT_NEW_SESSION_IMAGES, params)
        tx.execute(ingest_sql.INSERT_NEW_SESSION_ANNOTATIONS, params)
    tx.execute(ingest_sql.UPDATE_IMAGE_PRIORS[tx.dialect.merges_by_row_number, bool(moved)], params)
    tx.update_statistics({"sessions": sessions - len(known), "session_images": facts.images.num_rows,
                          "session_annotations": facts.annotations.num_rows})
