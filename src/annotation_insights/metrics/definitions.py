"""The one place where SPEC §4 (sessions) and §5 (metrics) are defined.

Ingest calls `session_facts` to turn new events into rollup deltas; every reader (API,
CLI, dashboard, exports) calls `shape_row` and `shape_totals` to turn summed rollups into
the reported fields. Change a metric here and it changes everywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

from annotation_insights.events.schema import ANNOTATION_TYPES, REVIEW_TYPES, Event

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def stable_key(*parts: str) -> str:
    """A 128-bit key for a tuple of ids: fixed width in every table, same on every backend."""
    text = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(text, digest_size=16).digest()
    return str(uuid.UUID(bytes=digest))


def event_key(event_id: str) -> tuple[int, int]:
    """An event id's 128-bit identity as two signed 64-bit halves (plain BIGINT columns)."""
    digest = hashlib.blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return (int.from_bytes(digest[:8], "big", signed=True),
            int.from_bytes(digest[8:], "big", signed=True))


@lru_cache(maxsize=65_536)
def _local_date_of_minute(timezone: str, minute: int) -> dt.date:
    # Offset changes happen on whole minutes, so the local date is constant within one.
    return (_EPOCH + dt.timedelta(minutes=minute)).astimezone(ZoneInfo(timezone)).date()


def local_date(time_us: int, timezone: str) -> dt.date:
    """The calendar date of an instant in the workspace's timezone (DST-correct)."""
    return _local_date_of_minute(timezone, time_us // 60_000_000)


# --- §4 sessions and the per-session facts ingest maintains --------------------------

@dataclass
class SessionDelta:
    project: str
    labeler: str
    explicit: bool
    first_time_us: int
    session_date: dt.date
    boxes_added: int = 0
    boxes_removed: int = 0
    boxes_updated: int = 0


@dataclass
class ImageFacts:
    project: str
    labeler: str
    labeled: bool = False
    marked_null: bool = False
    model_assisted: bool = False


@dataclass
class Facts:
    """Rollup deltas for one batch of new events, aggregated per rollup key."""

    sessions: dict[str, SessionDelta] = field(default_factory=dict)
    images: dict[tuple[str, str], ImageFacts] = field(default_factory=dict)
    annotations: dict[tuple[str, str], list[bool]] = field(default_factory=dict)  # [created, deleted]
    reviews: dict[tuple[str, str, dt.date], list[int]] = field(default_factory=dict)  # [approved, rejected]


def session_key(event: Event, timezone: str) -> tuple[str, bool, dt.date]:
    """(key, explicit, the event's local date): §4's session identity."""
    day = local_date(event.time_us, timezone)
    if event.session is not None:
        return stable_key(event.project, event.labeler, "s", event.session), True, day
    return stable_key(event.project, event.labeler, "d", day.isoformat()), False, day


def session_facts(events: Iterable[Event], timezone: str) -> Facts:
    facts = Facts()
    for event in events:
        if event.type in REVIEW_TYPES:
            counts = facts.reviews.setdefault(
                (event.project, event.labeler, local_date(event.time_us, timezone)), [0, 0])
            counts[0 if event.type == "image.approved" else 1] += 1
            continue
        key, explicit, day = session_key(event, timezone)
        session = facts.sessions.get(key)
        if session is None:
            session = facts.sessions[key] = SessionDelta(
                event.project, event.labeler, explicit, event.time_us, day)
        elif event.time_us < session.first_time_us:
            session.first_time_us, session.session_date = event.time_us, day
        image = facts.images.get((key, event.image))
        if image is None:
            image = facts.images[(key, event.image)] = ImageFacts(event.project, event.labeler)
        if event.type in ANNOTATION_TYPES:
            image.labeled = True
            flags = facts.annotations.setdefault((key, event.annotation), [False, False])
            if event.type == "annotation.created":
                session.boxes_added += 1
                flags[0] = True
                if event.model_assisted:
                    image.model_assisted = True
            elif event.type == "annotation.deleted":
                session.boxes_removed += 1
                flags[1] = True
            else:
                session.boxes_updated += 1
        elif event.type == "image.marked_null":
            image.labeled = image.marked_null = True
        else:  # image.model_assisted
            image.model_assisted = True
    return facts


# --- §5 reported fields --------------------------------------------------------------

def approval_rate(approved: int, rejected: int) -> float | int | None:
    """100 × approved / (approved + rejected), 2 decimals; None when nothing was reviewed."""
    reviewed = approved + rejected
    if reviewed == 0:
        return None
    rate = round(100 * approved / reviewed, 2)
    return int(rate) if rate == int(rate) else rate


@dataclass
class PairTotals:
    """Summed rollups of one (project, labeler) pair over the in-range sessions and reviews."""

    boxes_added: int = 0
    boxes_removed: int = 0
    boxes_updated: int = 0
    net_boxes_added: int = 0
    images_labeled: int = 0
    marked_null: int = 0
    model_assisted: int = 0
    approved: int = 0
    rejected: int = 0


def shape_row(totals: PairTotals, *, project: dict, labeler_id: str, workspace_id: str) -> dict:
    return {
        "projectId": project["slug"],
        "projectName": project["name"],
        "projectType": project["type"],
        "labelerId": labeler_id,
        "workspaceId": workspace_id,
        "imagesLabeled": totals.images_labeled,
        "boxesDrawn": totals.boxes_added - totals.boxes_removed,
        "markedNull": totals.marked_null,
        "modelAssisted": totals.model_assisted,
        "approved": totals.approved,
        "rejected": totals.rejected,
        "approvalRate": approval_rate(totals.approved, totals.rejected),
        "netBoxesAdded": totals.net_boxes_added,
        "netBoxesUpdated": totals.boxes_updated,
        "boxesAdded": totals.boxes_added,
        "boxesRemoved": totals.boxes_removed,
        "boxesUpdated": totals.boxes_updated,
    }


@dataclass(frozen=True)
class UniqueImages:
    """Distinct (project, image) counts over all in-range sessions: not additive."""

    labeled: int = 0
    marked_null: int = 0
    model_assisted: int = 0


def shape_totals(rows: list[dict], unique: UniqueImages) -> dict:
    added = sum(r["boxesAdded"] for r in rows)
    removed = sum(r["boxesRemoved"] for r in rows)
    updated = sum(r["boxesUpdated"] for r in rows)
    return {
        "numImagesLabeled": unique.labeled,
        "numBoxesDrawn": added - removed,
        "numImagesMarkedNull": unique.marked_null,
        "totalImagesUsingModelAssist": unique.model_assisted,
        "numBoxesAdded": added,
        "numBoxesRemoved": removed,
        "numBoxesUpdated": updated,
        "netBoxesAdded": sum(r["netBoxesAdded"] for r in rows),
        "netBoxesUpdated": updated,
        "approvalRate": approval_rate(sum(r["approved"] for r in rows),
                                      sum(r["rejected"] for r in rows)),
    }


def shape_labeler(labeler: dict) -> dict:
    """System labelers (e.g. autolabelservice) report placeholder name and email (SPEC §3)."""
    if labeler["is_system"]:
        return {"id": labeler["id"], "displayName": labeler["id"], "email": None}
    return {"id": labeler["id"], "displayName": labeler["display_name"], "email": labeler["email"]}
