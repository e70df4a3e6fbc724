"""NDJSON blocks (a file's or a request body's) read as columns, `batch.RAW_SCHEMA`;
JSON bodies too, as the NDJSON their objects make one a line (`json_body_table`).

A block is read as columns only when they hold exactly what parsing it a line at a time
would (`connectors/files.py`, the events endpoint): the same rows, the same values.
Otherwise the caller parses it line by line, which decides and words each bad row.

Two readers can do it. A large plain block (`_plain_table`: events as orjson, JavaScript
or Python's json module write them, with no escapes, nulls or unknown fields) is read by
the batch engine's JSON reader at about half the CPU of Arrow's, ~0.6 instead of ~1.2 µs
an event; that reader is lenient (it makes text of a number, keeps the first of a repeated
key, passes a trailing comma), so a block is plain only if its bytes rule all of that
out. Any other block is read by Arrow's reader, which is strict but for the non-JSON
literals, text that is not UTF-8 and blank lines, which are checked first.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from annotation_insights.events import engine
from annotation_insights.events.batch import RAW_SCHEMA, TEXT_FIELDS
from annotation_insights.store.queries import batch as batch_sql

_JSON_OPTIONS = pa_json.ParseOptions(
    explicit_schema=pa.schema([f for f in RAW_SCHEMA if f.name != "time_us"]),
    unexpected_field_behavior="ignore")
# What the engine's reader makes of a line: the text fields as text, and `modelAssisted`
# as its JSON, which tells `true` from `"true"` or `1`.
_ENGINE_FIELDS = orjson.dumps({**{name: "VARCHAR" for name in TEXT_FIELDS},
                               "modelAssisted": "JSON"}).decode()
_FLAGS = {"true", "false"}

# Blocks below this take Arrow's reader even when plain: a call of the engine costs ~2 ms
# on top of its reading, so for a request of 5,000 events (~1 MB) Arrow's is cheaper
# (0.8–1.3 against 1.0–1.8 µs an event); from ~2 MB on the engine's is (at 9 MB: 0.75
# against 1.2 CPU-µs). A file's blocks are 8–64 MB.
_PLAIN_BYTES = 4 << 20
_SCAN_BYTES = 1 << 20  # bytes a scan looks at a step: the step's arrays stay in cache
_NAN, _INFINITY = np.frombuffer(b"NaN", np.uint8), np.frombuffer(b"Infinity", np.uint8)
_QUOTE, _COLON, _COMMA, _NEWLINE, _OPEN, _CLOSE = (ord(mark) for mark in '":,\n{}')
_JSON_SPACE = b" \t\n\r"
_WRAPPED = re.compile(rb'\{[ \t\n\r]*"events"[ \t\n\r]*:[ \t\n\r]*\[(.*)\][ \t\n\r]*\}', re.S)


def ndjson_table(data: bytes | bytearray | memoryview) -> pa.Table | None:
    """The block's columns, if they read exactly what the line-by-line reader would."""
    table = _plain_table(data) if len(data) >= _PLAIN_BYTES else None
    if table is not None:
        return table
    lines = _json_lines(data)
    if lines is None or not _is_utf8(data):  # Arrow's reader would pass any bytes in text
        return None
    try:
        # Blocks of a quarter megabyte or more let both cores parse even a 1 MB body.
        block_size = max(1 << 18, min(len(data) // 16, 1 << 24))
        table = pa_json.read_json(pa.BufferReader(data), parse_options=_JSON_OPTIONS,
                                  read_options=pa_json.ReadOptions(block_size=block_size))
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if table.num_rows != lines:
        return None
    return _raw(table)


def json_body_table(body: bytes) -> pa.Table | None:
    """A JSON body's events (`[...]` or `{"events": [...]}`) as columns, if its objects
    are written on one line, `,` or `, ` between them, as `json.dumps`, orjson and HTTP
    clients' `json=` write them: their NDJSON, one object a line, read by `ndjson_table`
    (parsing the body as Python objects and making columns of them cost twice the CPU,
    all of it holding the GIL). Exact: if every line reads as one object, the body is
    those objects joined by the commas taken out, so it parses as that list, whatever a
    `},{` inside a string did to the lines; a body with its own line breaks is left
    alone, as two objects on two lines are valid NDJSON but not a valid list."""
    text = body.strip(_JSON_SPACE)
    if text[:1] == b"[" and text[-1:] == b"]":
        items = text[1:-1]
    elif (wrapped := _WRAPPED.fullmatch(text)) is not None:
        items = wrapped[1]
    else:
        return None
    items = items.strip(_JSON_SPACE)
    if not items or b"\n" in items or b"\r" in items:
        return None
    return ndjson_table(items.replace(b"},{", b"}\n{").replace(b"}, {", b"}\n{"))


def _plain_table(data: bytes | bytearray | memoryview) -> pa.Table | None:
    """The block as the engine's JSON reader reads it, if the block is plain and so that
    reading is the line-by-line one's. Plain: every line is an object, and the block has
    - no backslash: quotes delimit strings and nothing else;
    - no `[`: no arrays;
    - no white space after a quote: each key is followed by its colon, so keys can be
      counted as quote-colon pairs;
    - no comma or white space before the `}` that ends a line: no trailing comma.
    Then two counts prove the rest. Keys must number the values read: each key is one
    of the event's fields, once in its line, not null (an unknown key, a repeat, a null
    or a nested object's key would count with no value read). Quotes must number two
    for each key and two for each value but `modelAssisted`'s, which must read `true` or
    `false`: every text field's value is a string, never a number, literal or object."""
    if len(data) >= 1 << 31:  # line offsets are 32-bit
        return None
    scanned = _plain_lines(data)
    if scanned is None:
        return None
    offsets, quotes, keys = scanned
    lines = pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        fields = engine.run(batch_sql.NDJSON_FIELDS, {"fields": _ENGINE_FIELDS},
                            ndjson_lines=pa.table({"line": lines}))
    # Not JSON, or not UTF-8 (DuckDB's message then quotes bytes Python cannot decode).
    except (duckdb.Error, UnicodeDecodeError):
        return None
    flags = fields.column("modelAssisted")
    if not set(pc.unique(flags.drop_null()).to_pylist()) <= _FLAGS:
        return None
    values = sum(len(column) - column.null_count for column in fields.columns)
    if keys != values or quotes != 2 * (2 * keys - (len(flags) - flags.null_count)):
        return None
    table = fields.set_column(fields.num_columns - 1, "modelAssisted", pc.equal(flags, "true"))
    return _raw(table)


def _raw(fields: pa.Table) -> pa.Table:
    """A reader's columns as `RAW_SCHEMA`: the instant is left for the check to compute."""
    return fields.append_column("time_us", pa.nulls(fields.num_rows, pa.int64())).cast(RAW_SCHEMA)


def _plain_lines(data: bytes | bytearray | memoryview) -> tuple[np.ndarray, int, int] | None:
    """If the block is plain (see `_plain_table`): where its lines start (and the block
    ends), its quotes and its quote-colon pairs. NumPy scans it in steps, without the
    GIL."""
    octets = np.frombuffer(data, dtype=np.uint8)
    if not len(octets) or octets[0] != _OPEN:
        return None
    ends, quotes, keys = [], 0, 0
    for start in range(0, len(octets), _SCAN_BYTES):
        step = octets[start:start + _SCAN_BYTES + 1]  # sees the next step's first byte
        body, following = step[:_SCAN_BYTES], step[1:]
        newlines = _line_ends(step)
        if newlines is None:
            return None
        if ((body == ord("[")) | (body == ord("\\"))).any():
            return None
        marks = body == _QUOTE
        quotes += int(np.count_nonzero(marks))
        marks = marks[:len(following)]
        if (marks & (following <= ord(" "))).any():
            return None
        keys += int(np.count_nonzero(marks & (following == _COLON)))
        ends.append(newlines + start)
    ends = np.concatenate(ends)
    if octets[-1] != _NEWLINE:
        ends = np.append(ends, len(octets))
    # Each line's object closes at its end (before a `\r`), and not after a comma or space.
    closes = ends - 1 - (octets[ends - 1] == ord("\r"))
    before = octets[closes - 1]
    if not (octets[closes] == _CLOSE).all() or ((before == _COMMA) | (before <= ord(" "))).any():
        return None
    return np.concatenate([[0], ends + 1]).clip(max=len(octets)).astype(np.int32), quotes, keys


def _is_utf8(data: bytes | bytearray | memoryview) -> bool:
    """Whether the bytes are UTF-8 (checked by Arrow, without the GIL or a copy)."""
    bounds = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, bounds, pa.py_buffer(data)])
    try:
        whole.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _json_lines(data: bytes | bytearray | memoryview) -> int | None:
    """The number of lines, if each starts with `{` and no `NaN` or `Infinity` occurs
    anywhere (inside a string only sends the block the slow way). NumPy scans the block
    in steps, without the GIL: the bytes methods took 0.4 µs an event holding it."""
    octets = np.frombuffer(data, dtype=np.uint8)
    if not len(octets) or octets[0] != _OPEN:
        return None
    newlines = 0
    for start in range(0, len(octets), _SCAN_BYTES):
        step = octets[start:start + _SCAN_BYTES + len(_INFINITY)]  # sees into the next step
        ends = _line_ends(step)
        if ends is None or _occurs(step, _NAN) or _occurs(step, _INFINITY):
            return None
        newlines += len(ends)
    return newlines + (octets[-1] != _NEWLINE)


def _line_ends(step: np.ndarray) -> np.ndarray | None:
    """Where the step's first `_SCAN_BYTES` bytes hold a newline, if every line begun
    after one starts with `{` (the step sees into the next, so a line begun at its last
    byte is checked too)."""
    ends = np.flatnonzero(step[:_SCAN_BYTES] == _NEWLINE)
    if not (step[ends[ends + 1 < len(step)] + 1] == _OPEN).all():
        return None
    return ends


def _occurs(step: np.ndarray, word: np.ndarray) -> bool:
    """Whether `word` starts in the step's first `_SCAN_BYTES` bytes."""
    firsts = np.flatnonzero(step[:_SCAN_BYTES] == word[0])
    firsts = firsts[firsts + len(word) <= len(step)]
    if not len(firsts):
        return False
    return bool((step[firsts[:, None] + np.arange(len(word))] == word).all(axis=1).any())
