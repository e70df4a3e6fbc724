"""A batch of validated events, held as Arrow columns from the request to the store.

Every source (a JSON body, an NDJSON or Parquet file, a connector) ends up here. The
columns are checked by one SQL statement on the batch engine (`VALIDATE_EVENTS`); only a
batch in which that statement rejects a row, or a small one (`PYTHON_BATCH_MAX`), goes
through the per-event Python validator (`events/schema.py`), which decides and words the
errors. Each event id also gets its 128-bit identity (MD5), by which the store tells new
events from re-sent ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotation_insights.events import engine
from annotation_insights.events.schema import EARLIEST_US, EVENT_TYPES, PROJECT_SLUG, Event
from annotation_insights.store.queries import batch as batch_sql
from annotation_insights.store.event_keys import KEY, SortedKeys

TEXT_FIELDS = ("id", "type", "time", "project", "image", "labeler", "annotation", "session",
               "reviewer", "class")
RAW_SCHEMA = pa.schema([*((name, pa.string()) for name in TEXT_FIELDS),
                        ("modelAssisted", pa.bool_()), ("time_us", pa.int64())])

# Up to this many events a batch is checked and keyed in Python, event by event: the
# batch engine's statements cost their binding whatever the batch's size (checking a
# 100-event body 6.9 ms, keying events 3.1 ms), the Python validator ~8 µs an event
# (the same body ~1.3 ms), which also leaves the GIL to other requests sooner.
PYTHON_BATCH_MAX = 256

# The raw column each batch column comes from (time_us: the instant the check computed).
_RAW_SOURCES = ("id", "type", "time_us", "project", "image", "labeler", "annotation", "session",
                "modelAssisted", "reviewer", "class")

# The columns of a batch, in the order of `queries.ingest.STAGE_EVENTS`.
EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("type", pa.string()), ("time_us", pa.int64()),
    ("project", pa.string()), ("image", pa.string()), ("labeler", pa.string()),
    ("annotation", pa.string()), ("session", pa.string()), ("model_assisted", pa.bool_()),
    ("reviewer", pa.string()), ("class", pa.string())])


@dataclass(frozen=True)
class EventBatch:
    """Valid events, each id once (the first of a repeated id wins), in arrival order.

    `received` counts the events as sent, repeats included, so that the answer's
    `duplicates` covers ids repeated within the batch as well as ids already stored.
    """

    table: pa.Table  # EVENT_SCHEMA
    keys: np.ndarray  # KEY, one per row
    received: int
    sorted_keys: SortedKeys | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return self.table.num_rows

    def keys_sorted(self) -> SortedKeys:
        """The keys sorted, as the store looks them up (sorted when the batch was
        checked, on the thread that checked it)."""
        return self.sorted_keys if self.sorted_keys is not None else SortedKeys(self.keys)

    def select(self, mask: np.ndarray) -> "EventBatch":
        if mask.all():
            return self
        return EventBatch(self.table.filter(pa.array(mask)), self.keys[mask], self.received)

    @classmethod
    def empty(cls) -> "EventBatch":
        return cls(EVENT_SCHEMA.empty_table(), np.empty(0, dtype=KEY), 0)


def raw_table(raw_events: Sequence[Any]) -> pa.Table | None:
    """JSON-decoded events as `RAW_SCHEMA` columns; None if any value has the wrong JSON type
    (the per-event validator then says which and where)."""
    if not all(type(event) is dict for event in raw_events):
        return None
    columns = {}
    try:
        for name in TEXT_FIELDS:
            values = [event.get(name) for event in raw_events]
            if any(type(value) is bytes for value in values):
                return None
            columns[name] = pa.array(values, type=pa.string())
        columns["modelAssisted"] = pa.array([event.get("modelAssisted") for event in raw_events],
                                            type=pa.bool_())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        return None
    columns["time_us"] = pa.nulls(len(raw_events), pa.int64())
    return pa.table(columns, schema=RAW_SCHEMA)


def checked_batch(raw: pa.Table, *, latest_us: int) -> EventBatch | None:
    """The batch, if no text has a control character, every project and type is one
    the validator accepts and every row passes `VALIDATE_EVENTS`; else None."""
    if any(_may_hold_control_characters(raw.column(name)) for name in _FREE_TEXT):
        return None
    if not (_each_distinct(raw.column("project"), PROJECT_SLUG.fullmatch)
            and _each_distinct(raw.column("type"), EVENT_TYPES.__contains__)):
        return None
    if raw.column("time_us").null_count == raw.num_rows:
        instants = _instants(raw.column("time"))
        if instants is not None:
            raw = raw.set_column(raw.schema.get_field_index("time_us"), "time_us", instants)
    checked = engine.run(batch_sql.VALIDATE_EVENTS[raw.column("time_us").null_count == 0],
                         {"earliest_us": EARLIEST_US, "latest_us": latest_us},
                         raw_events=raw)
    if not _all_true(checked.column("ok")):
        return None
    table = pa.table([checked.column("time_us") if name == "time_us" else raw.column(source)
                      for name, source in zip(EVENT_SCHEMA.names, _RAW_SOURCES)], schema=EVENT_SCHEMA)
    # One chunk a column: the store appends a large batch a third faster than in the
    # many chunks a file reader makes, and the copy is made here, before the writer.
    return _first_occurrences(table.combine_chunks(), _keys(checked), received=raw.num_rows)


def batch_of_events(events: Sequence[Event], *, received: int | None = None) -> EventBatch:
    """A batch of events the Python validator (or a connector) produced."""
    columns = list(zip(*((e.id, e.type, e.time_us, e.project, e.image, e.labeler, e.annotation,
                          e.session, e.model_assisted, e.reviewer, e.class_) for e in events)))
    if not columns:
        return EventBatch.empty()
    table = pa.table([pa.array(values, type=field.type) for values, field in zip(columns, EVENT_SCHEMA)],
                     schema=EVENT_SCHEMA)
    if len(events) > PYTHON_BATCH_MAX:
        return batch_of_table(table, received=received)
    return _first_occurrences(table, event_keys(columns[0]),
                              received=len(events) if received is None else received)


def batch_of_table(table: pa.Table, *, received: int | None = None) -> EventBatch:
    """A batch of events already in EVENT_SCHEMA and valid (validated when they were
    stored, as a backup's are): keyed, and each id's first occurrence kept."""
    keys = _keys(engine.run(batch_sql.EVENT_ID_KEYS, batch_events=table))
    return _first_occurrences(table, keys, received=table.num_rows if received is None else received)


def event_keys(ids: Sequence[str]) -> np.ndarray:
    """The ids' identities as the batch engine computes them (`ID_HALVES` of
    `md5_number`: the MD5 digest read as a little-endian 128-bit number)."""
    digests = b"".join(hashlib.md5(event_id.encode()).digest() for event_id in ids)
    halves = np.frombuffer(digests, dtype="<i8").reshape(-1, 2)
    keys = np.empty(len(ids), dtype=KEY)
    keys["lo"], keys["hi"] = halves[:, 0], halves[:, 1]
    return keys


def pairs(table: pa.Table) -> set[tuple[str, str]]:
    """The (project, labeler) pairs of a table with those two columns. Grouped on the
    calling thread: Arrow's pool is busy parsing the next block during an import, and
    waiting for it held the writer up (0.5 s of a 1M-event import). A small table's in
    Python: Arrow's grouping costs ~1 ms whatever the size."""
    if table.num_rows <= PYTHON_BATCH_MAX:
        return set(zip(table.column("project").to_pylist(), table.column("labeler").to_pylist()))
    distinct = (table.select(["project", "labeler"])
                .group_by(["project", "labeler"], use_threads=False).aggregate([]))
    return set(zip(distinct.column("project").to_pylist(), distinct.column("labeler").to_pylist()))


# The text fields with no pattern of their own (`project`, `type` and `time` have one).
_FREE_TEXT = ("id", "image", "labeler", "annotation", "session", "reviewer", "class")


def _may_hold_control_characters(column: pa.ChunkedArray) -> bool:
    """Whether a string column's bytes hold a C0 control or DEL (one byte below 0x20, or
    0x7F) or a C1 control (U+0080–U+009F: 0xC2 then 0x80–0x9F in UTF-8), the characters
    `schema.has_control_characters` refuses. The whole data buffer is scanned, also
    bytes a slice does not show: that can only send a clean batch the slow way."""
    for chunk in column.chunks:
        data = chunk.buffers()[2] if chunk.null_count < len(chunk) else None
        if data is None:
            continue
        octets = np.frombuffer(data, dtype=np.uint8)
        if ((octets < 0x20) | (octets == 0x7F)).any():
            return True
        after_c2 = octets[1:][octets[:-1] == 0xC2]
        if ((after_c2 >= 0x80) & (after_c2 <= 0x9F)).any():
            return True
    return False


def _time_shape(width: int, offset: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where `YYYY-MM-DDTHH:MM:SS[.f…]` then `Z` or an offset `±hh:mm`, `width` characters
    in all, has digits, and its other marks (the offset's sign, `+` or `-`, apart)."""
    marks = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"}
    if width - (6 if offset else 1) > 19:
        marks[19] = "."
    marks.update({width - 3: ":"} if offset else {width - 1: "Z"})
    digits = [i for i in range(width) if i not in marks and not (offset and i == width - 6)]
    return (np.array(digits), np.array(list(marks)),
            np.frombuffer("".join(marks.values()).encode(), dtype=np.uint8))


# Seconds, then no fraction or one of 1–6 digits, then the zone.
_TIME_SHAPES = {(seconds + zone, zone > 1): _time_shape(seconds + zone, zone > 1)
                for seconds in (19, 21, 22, 23, 24, 25, 26) for zone in (1, 6)}


def _instants(column: pa.ChunkedArray) -> pa.Array | None:
    """The column's times as microseconds since the epoch, if every one is written in one
    shape, `YYYY-MM-DDTHH:MM:SS` with or without a fraction of up to six digits, then `Z`
    or an offset `±hh:mm` (what most tools write): the bytes are checked in place and
    Arrow reads the instants, refusing impossible dates, times and offsets as the
    validator does. Else None, and the batch engine reads the times with its RFC 3339
    pattern, five times slower."""
    texts = column.combine_chunks()
    if len(texts) == 0 or texts.null_count:
        return None
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32, count=len(texts) + 1,
                            offset=texts.offset * 4)
    width = int(offsets[1] - offsets[0])
    if width == 0 or not (np.diff(offsets) == width).all():
        return None
    chars = np.frombuffer(texts.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, width)
    zoned = bool(chars[0, -1] != ord("Z"))
    if (width, zoned) not in _TIME_SHAPES:
        return None
    digits, marks, values = _TIME_SHAPES[width, zoned]
    numerals = chars[:, digits]
    if ((numerals < ord("0")) | (numerals > ord("9"))).any() or not (chars[:, marks] == values).all():
        return None
    if zoned and not ((chars[:, width - 6] == ord("+")) | (chars[:, width - 6] == ord("-"))).all():
        return None
    try:
        return pc.cast(texts, pa.timestamp("us", tz="UTC")).cast(pa.int64())
    except pa.ArrowInvalid:
        return None


def _each_distinct(column: pa.ChunkedArray, test: Callable[[str], object]) -> bool:
    """Whether every distinct value of the column is present and passes the test."""
    return all(value is not None and test(value) for value in pc.unique(column).to_pylist())


def _all_true(column: pa.ChunkedArray) -> bool:
    return len(column) == 0 or bool(pc.all(column).as_py())


def int64s(column: pa.ChunkedArray) -> np.ndarray:
    """A null-free 64-bit integer column as NumPy int64 (no copy of a single chunk)."""
    array = column.combine_chunks()
    return np.frombuffer(array.buffers()[1], dtype=np.int64, count=len(array), offset=array.offset * 8)


def _keys(table: pa.Table) -> np.ndarray:
    keys = np.empty(table.num_rows, dtype=KEY)
    keys["hi"] = int64s(table.column("key_hi"))
    keys["lo"] = int64s(table.column("key_lo"))
    return keys


def _first_occurrences(table: pa.Table, keys: np.ndarray, *, received: int) -> EventBatch:
    by_key = SortedKeys(keys)
    if not (by_key.hi[1:] == by_key.hi[:-1]).any():  # the usual case, and far cheaper to tell
        return EventBatch(table, keys, received, by_key)
    _, first = np.unique(keys, return_index=True)
    first.sort()
    return EventBatch(table.take(pa.array(first)), keys[first], received)
