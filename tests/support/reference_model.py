"""Slow, obviously-correct reference for SPEC §4 (sessions) and §5 (metrics).

The real engine keeps rollups and answers with SQL; this module recomputes every
number from the raw event list with plain loops so that a reader can check it
against /work/shared/SPEC.md line by line. Tests compare the engine to this.

Deliberately naive: no incremental state, no caching, no vectorisation.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

LABELING_TYPES = (
    "annotation.created",
    "annotation.updated",
    "annotation.deleted",
    "image.marked_null",
    "image.model_assisted",
)
REVIEW_TYPES = ("image.approved", "image.rejected")


def parse_time(value: str) -> datetime.datetime:
    """RFC 3339 string -> aware datetime (SPEC §3 `time`)."""
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time without offset: {value!r}")
    return parsed


def local_date(value: str, timezone: str) -> datetime.date:
    """The 'local date' of SPEC §2: calendar date in the workspace timezone."""
    return parse_time(value).astimezone(ZoneInfo(timezone)).date()


def approval_rate(approved: int, rejected: int) -> float | None:
    # §5 approvalRate: 100 × approved / (approved + rejected), 2 decimals; null when both 0
    if approved + rejected == 0:
        return None
    return round(100 * approved / (approved + rejected), 2)


def dedupe(events: list[dict]) -> list[dict]:
    # §3 id: re-sending an id is a no-op (first write wins); list order = arrival order
    seen = set()
    kept = []
    for event in events:
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        kept.append(event)
    return kept


def build_sessions(events: list[dict], timezone: str) -> dict:
    """§4: group labeling events into sessions.

    Returns {session_key: {"project", "labeler", "date", "events"}}. The key
    carries a tag so an explicit session id that happens to look like a date
    ("2024-03-01") never merges with the implicit session of that date.
    """
    sessions = {}
    for event in events:
        if event["type"] not in LABELING_TYPES:
            continue
        if event.get("session") is not None:
            # §4: keyed by (project, labeler, session) when session is given
            key = (event["project"], event["labeler"], "explicit", event["session"])
        else:
            # §4: ... else by (project, labeler, local date of time)
            key = (event["project"], event["labeler"], "implicit",
                   local_date(event["time"], timezone))
        if key not in sessions:
            sessions[key] = {"project": event["project"], "labeler": event["labeler"],
                             "events": []}
        sessions[key]["events"].append(event)

    for session in sessions.values():
        # §4: a session's date is the local date of its earliest event
        earliest = session["events"][0]
        for event in session["events"]:
            if parse_time(event["time"]) < parse_time(earliest["time"]):
                earliest = event
        session["date"] = local_date(earliest["time"], timezone)
    return sessions


def empty_row(project: str, labeler: str) -> dict:
    return {
        "projectId": project,
        "labelerId": labeler,
        "imagesLabeled": 0,
        "boxesDrawn": 0,
        "markedNull": 0,
        "modelAssisted": 0,
        "approved": 0,
        "rejected": 0,
        "approvalRate": None,
        "netBoxesAdded": 0,
        "netBoxesUpdated": 0,
        "boxesAdded": 0,
        "boxesRemoved": 0,
        "boxesUpdated": 0,
    }


def is_model_assisted(event: dict) -> bool:
    # §5 modelAssisted: image.model_assisted, or annotation.created with modelAssisted: true
    if event["type"] == "image.model_assisted":
        return True
    return event["type"] == "annotation.created" and event.get("modelAssisted") is True


def reference_stats(events: list[dict], *, timezone: str, start: datetime.date,
                    end: datetime.date, project: str | None = None,
                    user_id: str | None = None) -> dict:
    """Recompute `data[]` and `stats` of SPEC §5 from raw §3 events."""
    events = dedupe(events)

    def passes_filters(project_slug: str, labeler: str) -> bool:
        # §5: optional project (slug) and userId (labeler id) filters
        if project is not None and project_slug != project:
            return False
        if user_id is not None and labeler != user_id:
            return False
        return True

    rows = {}
    labeled_images = set()       # (project, image) for stats.numImagesLabeled
    null_images = set()          # (project, image) for stats.numImagesMarkedNull
    assisted_images = set()      # (project, image) for stats.totalImagesUsingModelAssist

    # --- labeling sessions -------------------------------------------------
    for session in build_sessions(events, timezone).values():
        if not passes_filters(session["project"], session["labeler"]):
            continue
        # §5: in range = sessions whose date is in [startDate, endDate]
        if not (start <= session["date"] <= end):
            continue
        pair = (session["project"], session["labeler"])
        if pair not in rows:
            rows[pair] = empty_row(*pair)
        row = rows[pair]

        created_ids = set()
        deleted_ids = set()
        images_touched = set()
        images_null = set()
        images_assisted = set()
        for event in session["events"]:
            kind = event["type"]
            # §5 boxesAdded / boxesRemoved / boxesUpdated: count events
            if kind == "annotation.created":
                row["boxesAdded"] += 1
                created_ids.add(event["annotation"])
            elif kind == "annotation.deleted":
                row["boxesRemoved"] += 1
                deleted_ids.add(event["annotation"])
            elif kind == "annotation.updated":
                row["boxesUpdated"] += 1
            # §5 imagesLabeled: distinct images with annotation.* or image.marked_null
            if kind.startswith("annotation.") or kind == "image.marked_null":
                images_touched.add(event["image"])
            # §5 markedNull: distinct images with image.marked_null
            if kind == "image.marked_null":
                images_null.add(event["image"])
            # §5 modelAssisted: distinct images, either route
            if is_model_assisted(event):
                images_assisted.add(event["image"])

        # §5 netBoxesAdded: created in this session, no annotation.deleted in this session
        row["netBoxesAdded"] += len(created_ids - deleted_ids)
        row["imagesLabeled"] += len(images_touched)
        row["markedNull"] += len(images_null)
        row["modelAssisted"] += len(images_assisted)
        for image in images_touched:
            labeled_images.add((session["project"], image))
        for image in images_null:
            null_images.add((session["project"], image))
        for image in images_assisted:
            assisted_images.add((session["project"], image))

    # --- review events -----------------------------------------------------
    for event in events:
        if event["type"] not in REVIEW_TYPES:
            continue
        # §3 labeler: for review events, whose work was reviewed (the credited labeler)
        if not passes_filters(event["project"], event["labeler"]):
            continue
        # §4: review events belong to no session; they count on their own local date
        if not (start <= local_date(event["time"], timezone) <= end):
            continue
        pair = (event["project"], event["labeler"])
        if pair not in rows:
            rows[pair] = empty_row(*pair)
        # §5 approved / rejected: number of in-range events crediting the labeler
        if event["type"] == "image.approved":
            rows[pair]["approved"] += 1
        else:
            rows[pair]["rejected"] += 1

    # --- derived row fields ------------------------------------------------
    for row in rows.values():
        row["boxesDrawn"] = row["boxesAdded"] - row["boxesRemoved"]  # §5 boxesDrawn
        row["netBoxesUpdated"] = row["boxesUpdated"]                  # §5 netBoxesUpdated
        row["approvalRate"] = approval_rate(row["approved"], row["rejected"])

    # §5: data[] ordered by project slug, then labeler id
    data = [rows[pair] for pair in sorted(rows)]

    # --- workspace totals (§5 stats) ---------------------------------------
    num_added = sum(row["boxesAdded"] for row in data)
    num_removed = sum(row["boxesRemoved"] for row in data)
    num_updated = sum(row["boxesUpdated"] for row in data)
    stats = {
        "numImagesLabeled": len(labeled_images),           # distinct (project, image)
        "numBoxesDrawn": num_added - num_removed,           # numBoxesAdded − numBoxesRemoved
        "numImagesMarkedNull": len(null_images),            # distinct (project, image)
        "totalImagesUsingModelAssist": len(assisted_images),  # distinct (project, image)
        "numBoxesAdded": num_added,                         # sum of rows
        "numBoxesRemoved": num_removed,                     # sum of rows
        "numBoxesUpdated": num_updated,                     # sum of rows
        "netBoxesAdded": sum(row["netBoxesAdded"] for row in data),  # Σ rows (per-session rule)
        "netBoxesUpdated": num_updated,                     # = numBoxesUpdated
        "approvalRate": approval_rate(sum(row["approved"] for row in data),
                                      sum(row["rejected"] for row in data)),
    }
    return {"data": data, "stats": stats}
