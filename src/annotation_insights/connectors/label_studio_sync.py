"""Apply Label Studio deliveries to the store: events and "last version seen" in one commit.

Inside one transaction, under the workspace's write lock: read the last versions seen of
the delivery's annotations, diff, ingest the derived events and store the new versions.
Two deliveries for one annotation can therefore never both diff against the same old
version, and a crash can never store the events without the state (or the reverse).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from annotation_insights.connectors.label_studio import (
    Annotation, Delivery, Seen, delete_annotation, diff_annotation)
from annotation_insights.events.ingest import catch_up_if_due, ingest_in, validate_batch
from annotation_insights.store.queries import connectors as connectors_sql
from annotation_insights.store.database import Database, Transaction
from annotation_insights.tenancy.workspaces import Workspace

_SEEN_COLUMNS = ("project", "annotation_id", "unique_id", "image", "labeler", "version_us",
                 "regions", "deleted")


@dataclass(frozen=True)
class SyncResult:
    annotations: int
    accepted: int
    duplicates: int

    def body(self) -> dict[str, int]:
        return {"annotations": self.annotations, "accepted": self.accepted,
                "duplicates": self.duplicates}


def _load_seen(tx: Transaction, workspace: Workspace, keys: list[tuple[str | None, str]]
               ) -> dict[tuple[str, str], Seen]:
    params = {"workspace_id": workspace.id}
    if len(keys) == 1:  # the usual webhook: one annotation, no staging round trip
        (project, annotation_id), = keys
        rows = tx.execute(connectors_sql.SELECT_LS_ANNOTATION,
                          {**params, "project": project, "annotation_id": annotation_id})
    else:
        tx.stage("stage_ls_keys", connectors_sql.STAGE_LS_KEYS, keys)
        rows = tx.execute(connectors_sql.SELECT_LS_ANNOTATIONS, params)
    seen = {}
    for row in rows:
        r = dict(zip(_SEEN_COLUMNS, row))
        seen[(r["project"], r["annotation_id"])] = Seen(
            r["project"], r["annotation_id"], r["unique_id"], r["image"], r["labeler"],
            int(r["version_us"]), Seen.regions_from_json(r["regions"]), bool(r["deleted"]))
    return seen


def _store_seen(tx: Transaction, workspace: Workspace, versions: list[Seen]) -> None:
    rows = [(s.project, s.annotation_id, s.unique_id, s.image, s.labeler, s.version_us,
             s.regions_json(), s.deleted) for s in versions]
    if len(rows) == 1:
        tx.execute(connectors_sql.UPSERT_LS_ANNOTATION,
                   {"workspace_id": workspace.id, **dict(zip(_SEEN_COLUMNS, rows[0]))})
        return
    tx.stage("stage_ls_annotations", connectors_sql.STAGE_LS_ANNOTATIONS, rows)
    tx.execute(connectors_sql.UPSERT_LS_ANNOTATIONS, {"workspace_id": workspace.id})


# Projects this process has already named: naming is skipped on the hot path after the
# first delivery (a statement saved per webhook; Label Studio gives us 1 s in total).
_named: set[tuple[str, int, str, str]] = set()


def _name_project(db: Database, tx: Transaction, workspace: Workspace, delivery: Delivery,
                  done: list[tuple[str, int, str, str]]) -> None:
    if not (delivery.project and delivery.project_title):
        return
    key = (db.description, workspace.id, delivery.project, delivery.project_title)
    if key in _named:
        return
    tx.execute(connectors_sql.NAME_TOOL_PROJECT, {"workspace_id": workspace.id, "slug": delivery.project,
                                                  "name": delivery.project_title[:200],
                                                  "type": delivery.project_type})
    done.append(key)


def apply_delivery(db: Database, workspace: Workspace, delivery: Delivery, *,
                   backfill: bool = False, now_us: int | None = None) -> SyncResult:
    """Turn one delivery (or one backfill page) into stored events; idempotent."""
    named: list[tuple[str, int, str, str]] = []
    if not delivery.annotations and not delivery.deleted_ids:
        with db.transaction() as tx:
            _name_project(db, tx, workspace, delivery, named)
        _named.update(named)
        return SyncResult(0, 0, 0)
    now_us = now_us if now_us is not None else int(time.time() * 1_000_000)
    with db.transaction() as tx:
        tx.lock_workspace(workspace.id)
        keys = sorted({(a.project, a.id) for a in delivery.annotations}
                      | {(delivery.project, i) for i in delivery.deleted_ids},
                      key=lambda k: (k[0] or "", k[1]))
        seen = _load_seen(tx, workspace, keys)
        raw_events, versions = _diff_all(delivery, seen, backfill=backfill, now_us=now_us)
        # Derived events are valid by construction; validating anyway keeps one gate for
        # everything stored, with no batch cap: Label Studio cannot split a delivery.
        events = validate_batch(raw_events, max_events=len(raw_events) + 1)
        _name_project(db, tx, workspace, delivery, named)
        result = ingest_in(tx, workspace, events)
        if versions:
            _store_seen(tx, workspace, versions)
    _named.update(named)  # only once committed
    catch_up_if_due(db)
    return SyncResult(len(delivery.annotations) + len(delivery.deleted_ids),
                      result.accepted, result.duplicates)


def _diff_all(delivery: Delivery, seen: dict[tuple[str, str], Seen], *, backfill: bool,
              now_us: int) -> tuple[list[dict], list[Seen]]:
    raw_events: list[dict] = []
    latest: dict[tuple[str, str], Seen] = {}
    by_id: dict[str, list[Seen]] = {}
    for known in seen.values():
        by_id.setdefault(known.annotation_id, []).append(known)
    annotation: Annotation
    for annotation in delivery.annotations:  # a bulk list may hold versions of one annotation
        key = (annotation.project, annotation.id)
        events, version = diff_annotation(annotation, latest.get(key) or seen.get(key),
                                          backfill=backfill)
        raw_events.extend(events)
        if version is not None:
            latest[key] = version
    for annotation_id in delivery.deleted_ids:
        candidates = by_id.get(annotation_id, [])
        if delivery.project is not None:
            candidates = [s for s in candidates if s.project == delivery.project]
        for known in candidates:
            current = latest.get((known.project, annotation_id), known)
            if current.deleted:
                continue
            events, version = delete_annotation(current, now_us)
            raw_events.extend(events)
            latest[(known.project, annotation_id)] = version
    return raw_events, list(latest.values())
