"""The one place where SPEC §4 (sessions) and §5 (metrics) are defined.

Ingest calls `session_facts` to turn a batch of new events into rollup deltas: the
local dates and session keys are computed here, the per-session facts by the `FACT_*`
statements in `store/queries/batch.py` on the batch engine. Every reader (API, CLI,
dashboard, exports) calls `shape_row` and `shape_totals` (a time series cell
`pair_metrics` and `unique_metrics`) to turn summed rollups into the reported fields.
Change a metric here and it changes everywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotation_insights.events import engine
from annotation_insights.events.batch import int64s, pairs
from annotation_insights.store.queries import batch as batch_sql

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_US_PER_S, _S_PER_HOUR, _S_PER_DAY = 1_000_000, 3_600, 86_400


def stable_key(*parts: str) -> bytes:
    """A 128-bit key for a tuple of ids: fixed width in every table, same on every backend
    (stored as a UUID; 32 hex digits as text)."""
    text = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(text, digest_size=16).digest()


@lru_cache(maxsize=65_536)
def _offset_s(timezone: str, second: int) -> int:
    """The workspace timezone's UTC offset at an instant, in seconds."""
    moment = _EPOCH + dt.timedelta(seconds=second)
    return int(moment.astimezone(ZoneInfo(timezone)).utcoffset().total_seconds())


def local_days(time_us: np.ndarray, timezone: str) -> np.ndarray:
    """Each instant's calendar date in the workspace's timezone (DST-correct), as days
    since 1970-01-01. The offset is looked up once per distinct hour of the batch, and
    per event only in the rare hour whose offset changes within it."""
    seconds = time_us // _US_PER_S
    hours, inverse = np.unique(seconds // _S_PER_HOUR, return_inverse=True)
    starts = [_offset_s(timezone, int(h) * _S_PER_HOUR) for h in hours]
    ends = [_offset_s(timezone, int(h) * _S_PER_HOUR + _S_PER_HOUR - 1) for h in hours]
    offsets = np.array(starts, dtype=np.int64)[inverse]
    changing = np.flatnonzero((np.array(starts) != np.array(ends))[inverse])
    for i in changing:
        offsets[i] = _offset_s(timezone, int(seconds[i]))
    return ((seconds + offsets) // _S_PER_DAY).astype(np.int32)


def local_date(time_us: int, timezone: str) -> dt.date:
    """The calendar date of one instant in the workspace's timezone."""
    day = int(local_days(np.array([time_us], dtype=np.int64), timezone)[0])
    return dt.date.fromordinal(day + _EPOCH_ORDINAL)


# --- §4 sessions and the per-session facts ingest maintains --------------------------

@dataclass(frozen=True)
class Facts:
    """Rollup deltas of one batch of new events, as Arrow tables laid out like the
    `STAGE_SESSIONS`, `STAGE_SESSION_IMAGES`, `STAGE_SESSION_ANNOTATIONS` and
    `STAGE_REVIEW_DAYS` relations the store merges them from."""

    sessions: pa.Table
    images: pa.Table
    annotations: pa.Table
    reviews: pa.Table

    def pairs(self) -> set[tuple[str, str]]:
        """The (project, labeler) pairs the batch touches."""
        return pairs(self.sessions) | pairs(self.reviews)


def session_facts(events: pa.Table, timezone: str) -> Facts:
    """§4: a labeling event belongs to the session keyed by (project, labeler, `session`)
    when given, else by (project, labeler, local date); the session's date is the local
    date of its earliest event. Reviews count on their own local date."""
    days = local_days(int64s(events.column("time_us")), timezone)
    events = events.append_column("local_date", pa.array(days, type=pa.int32()).cast(pa.date32()))
    rows = pa.array(np.arange(events.num_rows, dtype=np.int32))
    parts = engine.run(batch_sql.SESSION_PARTS, batch_events=events.append_column("row", rows))
    keyed = events.append_column("part", _part_of_each_event(parts.column("rows"), events.num_rows))
    parts = parts.drop_columns(["rows"]).append_column(
        "part", pa.array(np.arange(parts.num_rows, dtype=np.int32)))
    images = _with_uuids(engine.run(batch_sql.FACT_SESSION_IMAGES, keyed_events=keyed, parts=parts),
                         "image_key")
    annotations = engine.run(batch_sql.FACT_SESSION_ANNOTATIONS, keyed_events=keyed, parts=parts)
    sessions = engine.run(batch_sql.FACT_SESSIONS, parts=parts, fact_images=images,
                          fact_annotations=annotations)
    keys = _session_keys(parts)
    return Facts(*(_by_session(facts, keys) for facts in (sessions, images, annotations)),
                 engine.run(batch_sql.FACT_REVIEW_DAYS, batch_events=events))


def _part_of_each_event(rows: pa.ChunkedArray, events: int) -> pa.Array:
    """Each event's session number (its part's index), from each part's list of rows;
    null for a review, which is in no session."""
    lists = rows.combine_chunks()
    part = np.full(events, -1, dtype=np.int32)
    part[lists.flatten().to_numpy()] = np.repeat(np.arange(len(lists), dtype=np.int32),
                                                 pc.list_value_length(lists).to_numpy())
    return pa.array(part, mask=part < 0)


def _by_session(facts: pa.Table, keys: pa.Array) -> pa.Table:
    """The facts with their session's key, each session's together. The key is 16 bytes
    the store takes as a UUID, not text it parses; and the store compresses a key
    repeated row after row to almost nothing (the (session, annotation) facts of a 10M
    import 17 -> 4 bytes an event on disk) and writes it faster. Grouping left the facts
    in hash order; ordering them costs 0.04 µs an event."""
    facts = facts.take(pc.sort_indices(facts.column("part")))
    return facts.append_column("session_key", keys.take(facts.column("part")))


def _session_keys(parts: pa.Table) -> pa.Array:
    """Each part's session key, as a UUID: by its `session` id when it has one, else by
    its day (column by column: a block of an import has thousands of parts)."""
    columns = [parts.column(name).to_pylist() for name in ("project", "labeler", "session")]
    days = parts.column("day").cast(pa.string()).to_pylist()
    keys = [stable_key(project, labeler, "s", session) if session is not None else
            stable_key(project, labeler, "d", day)
            for project, labeler, session, day in zip(*columns, days)]
    return _uuids(pa.array(keys, type=pa.binary(16)))


def _with_uuids(table: pa.Table, name: str) -> pa.Table:
    """The table with a column of 16-byte values as UUIDs, which the store takes as they
    are: as 32 hex digits, DuckDB's parsing them cost ~0.3 µs a fact in each statement
    that reads them."""
    index = table.schema.get_field_index(name)
    return table.set_column(index, name, _uuids(table.column(index).combine_chunks().cast(pa.binary(16))))


def _uuids(values: pa.Array) -> pa.Array:
    return pa.ExtensionArray.from_storage(pa.uuid(), values)


# --- §5 reported fields --------------------------------------------------------------

def approval_rate(approved: int, rejected: int) -> float | int | None:
    """100 × approved / (approved + rejected), 2 decimals; None when nothing was reviewed."""
    reviewed = approved + rejected
    if reviewed == 0:
        return None
    rate = round(100 * approved / reviewed, 2)
    return int(rate) if rate == int(rate) else rate


@dataclass(slots=True)
class PairTotals:
    """Summed rollups of one (project, labeler) pair, or of a time series cell, over the
    in-range sessions and reviews."""

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
        **pair_metrics(totals),
    }


def pair_metrics(totals: PairTotals) -> dict:
    """A `data[]` row's metrics, without its identity: also a time series cell's."""
    return {
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


@dataclass(frozen=True, slots=True)
class UniqueImages:
    """Distinct (project, image) counts over all in-range sessions: not additive."""

    labeled: int = 0
    marked_null: int = 0
    model_assisted: int = 0


def unique_metrics(unique: UniqueImages) -> dict:
    """The `stats` fields that count distinct images: also a time series cell's."""
    return {
        "numImagesLabeled": unique.labeled,
        "numImagesMarkedNull": unique.marked_null,
        "totalImagesUsingModelAssist": unique.model_assisted,
    }


def shape_totals(rows: Sequence[dict], unique: UniqueImages) -> dict:
    added = sum(r["boxesAdded"] for r in rows)
    removed = sum(r["boxesRemoved"] for r in rows)
    updated = sum(r["boxesUpdated"] for r in rows)
    images = unique_metrics(unique)  # placed in the order Roboflow's example answer has
    return {
        "numImagesLabeled": images["numImagesLabeled"],
        "numBoxesDrawn": added - removed,
        "numImagesMarkedNull": images["numImagesMarkedNull"],
        "totalImagesUsingModelAssist": images["totalImagesUsingModelAssist"],
        "numBoxesAdded": added,
        "numBoxesRemoved": removed,
        "numBoxesUpdated": updated,
        "netBoxesAdded": sum(r["netBoxesAdded"] for r in rows),
        "netBoxesUpdated": updated,
        "approvalRate": approval_rate(sum(r["approved"] for r in rows),
                                      sum(r["rejected"] for r in rows)),
    }


def shape_labeler(labeler_id: str, display_name: str, email: str | None, is_system: bool) -> dict:
    """System labelers (e.g. autolabelservice) report placeholder name and email (SPEC §3)."""
    if is_system:
        return {"id": labeler_id, "displayName": labeler_id, "email": None}
    return {"id": labeler_id, "displayName": display_name, "email": email}
