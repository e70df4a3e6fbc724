"""NDJSON read as columns must read what parsing it a line at a time reads: the same
rows, the same values; else the block goes line by line. Both readers are held to it
(the engine's for plain blocks, Arrow's for the rest) on hostile lines."""

from __future__ import annotations

import json

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation_insights.events import ndjson
from annotation_insights.events.batch import TEXT_FIELDS, raw_table
from annotation_insights.events.ndjson import json_body_table, ndjson_table

ROWS = [{"id": f"e{i}", "type": "image.marked_null", "time": "2024-03-01T10:00:00Z",
         "project": "p", "image": str(i), "labeler": "l"} for i in range(3)]


@pytest.mark.parametrize("text, reason", [
    ("".join(json.dumps(r) + "\n" for r in ROWS), None),
    ("".join(json.dumps(r) + "\r\n" for r in ROWS), None),
    ("".join(json.dumps(r) + "\n" for r in ROWS).rstrip("\n"), None),
    (json.dumps(ROWS[0]) + "\n\n" + json.dumps(ROWS[1]) + "\n", "blank line: row numbers would shift"),
    (json.dumps(ROWS[0]) + " " + json.dumps(ROWS[1]) + "\n", "two objects on one line are invalid JSON"),
    (json.dumps({**ROWS[0], "x": 1}).replace("1}", "NaN}") + "\n", "NaN is not JSON"),
    (json.dumps({**ROWS[0], "id": 5}) + "\n", "a number where text belongs"),
    ('[{"id": "e1"}]\n', "not an object"),
    (json.dumps(ROWS[0]) + "\n{not json\n", "invalid JSON"),
    ('{"id":"a","id":"b"}\n', "a repeated key: the line-by-line parser keeps the last value"),
    ('{"id":"a",}\n', "a trailing comma is not JSON"),
    ('{"id":"a", }\n', "a trailing comma before white space is not JSON either"),
    ('{"id" :12,"x":5}\n', "a number where text belongs, its key's colon after a space"),
    ('{"id":["a"]}\n', "an array as long in quotes as a string"),
    ('{"image":"i","modelAssisted":"true"}\n', "a string where a boolean belongs"),
    ('{"image":"i","modelAssisted":1}\n', "a number where a boolean belongs"),
    ('{"id":"\xff"}\n'.encode("latin-1").decode("utf-8", "surrogateescape"), "not UTF-8"),
    ('{"\xff":"a"}\n'.encode("latin-1").decode("utf-8", "surrogateescape"), "a key not in UTF-8"),
])
def test_ndjson_is_read_as_columns_only_when_that_reads_what_line_by_line_parsing_reads(text, reason):
    data = text.encode("utf-8", "surrogateescape")
    table = ndjson_table(data)
    if reason is not None:
        assert table is None and ndjson._plain_table(data) is None, reason
        return
    lines = [orjson.loads(line) for line in text.encode().split(b"\n") if line.strip()]
    assert table.select(["id", "image"]).to_pylist() == [{"id": r["id"], "image": r["image"]} for r in lines]


def _read_line_by_line(data: bytes) -> pa.Table | None:
    """What reading the block a line at a time makes of it, as columns; None if a line is
    not a JSON object or a value has the wrong JSON type (those rows are reported one by
    one), or a blank line would shift the row numbers."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    try:
        events = [orjson.loads(line) for line in lines]
    except orjson.JSONDecodeError:
        return None
    if not lines or any(not line.strip() for line in lines):
        return None
    return raw_table(events)


# Lines built field by field: the fields' values are strings with no escapes (JSON's own
# marks inside), so that many blocks are plain; an extra entry per line may bring
# `modelAssisted`, an unknown key or a repeated field, with any value: strings with
# escapes, every other JSON value, and what only a lenient reader accepts (NaN, 1e999,
# `[1,]`).
_PLAIN_TEXT = st.text(alphabet="ab :,{}é👩", max_size=4).map(lambda text: f'"{text}"')
_OTHER_VALUES = st.one_of(
    st.text(max_size=4).map(lambda text: json.dumps(text, ensure_ascii=False)),
    st.sampled_from(['"\\u0041"', '"q\\"q"', '"\\ud800"', '"tab\there"', "true", "false", "null",
                     "1", "-0.5", "1e999", "NaN", "nan", "-Infinity", "{}", '{"a":"b"}', "[]", '["a"]',
                     "[1,]"]))
_COLONS = st.sampled_from([":", ":", ": ", " :", ":\t"])  # chosen entry by entry
_ENTRIES = st.builds(
    lambda fields, extras: fields + extras,
    st.lists(st.tuples(st.sampled_from(TEXT_FIELDS), _COLONS, _PLAIN_TEXT), max_size=6,
             unique_by=lambda field: field[0]),
    st.lists(st.tuples(st.sampled_from([*TEXT_FIELDS, "modelAssisted", "extra", "ID"]), _COLONS,
                       st.one_of(_PLAIN_TEXT, _OTHER_VALUES)), max_size=1))
_LINES = st.builds(
    lambda entries, comma, trailing, ending: (
        "{" + comma.join(f'"{key}"{colon}{value}' for key, colon, value in entries)
        + trailing + "}" + ending),
    _ENTRIES,
    st.sampled_from([",", ",", ", ", " ,", ",\r"]),
    st.sampled_from(["", "", "", ",", ", "]),
    st.sampled_from(["\n", "\n", "\r\n", "\n\n", " \n"]))


@settings(max_examples=1000, deadline=None)
@given(lines=st.lists(_LINES, min_size=1, max_size=4), cut_last=st.booleans(),
       invalid_utf8=st.booleans())
def test_an_ndjson_block_read_as_columns_reads_what_line_by_line_parsing_reads(lines, cut_last,
                                                                                invalid_utf8):
    """Both readers (the engine's, which takes large plain blocks, and the one that
    decides) read a block's columns as parsing it line by line does, or not at all."""
    data = "".join(lines).encode()
    data = data.rstrip(b"\n") if cut_last else data
    data = data.replace(b"a", b"\xff", 1) if invalid_utf8 else data
    for table in (ndjson._plain_table(data), ndjson_table(data)):
        if table is not None:
            expected = _read_line_by_line(data)
            assert expected is not None and table.equals(expected), data


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_plain_ndjson_is_read_by_the_engine(separators, ending):
    """Events written compactly (orjson, JavaScript) or as Python's json module writes
    them, with either line ending, take the engine's reader, every field and
    `modelAssisted` read alike."""
    rows = [{**row, "annotation": "a:1", "class": "car, red", "modelAssisted": i % 2 == 0}
            for i, row in enumerate(ROWS)]
    data = "".join(json.dumps(row, separators=separators) + ending for row in rows).encode()
    table = ndjson._plain_table(data)
    assert table is not None and table.equals(_read_line_by_line(data))


def test_a_small_block_takes_arrows_reader_and_a_large_one_the_engines(monkeypatch):
    """A request's body of a few thousand events is read cheaper by Arrow's reader than by
    the engine's, whose call costs a fixed ~2 ms; a file's blocks of megabytes the other
    way round. Both read the same."""
    data = "".join(json.dumps(row) + "\n" for row in ROWS).encode()
    engine_reads = []
    plain_table = ndjson._plain_table
    monkeypatch.setattr(ndjson, "_plain_table", lambda data: engine_reads.append(len(data)) or plain_table(data))
    small = ndjson_table(data)
    monkeypatch.setattr(ndjson, "_PLAIN_BYTES", len(data))
    large = ndjson_table(data)
    assert engine_reads == [len(data)] and small.equals(large)


def _json_lines_plainly(data: bytes) -> int | None:
    """The rule `_json_lines` implements, written with the bytes methods."""
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    starts = data.count(b"\n{") + data.startswith(b"{")
    if not data or starts != lines or b"NaN" in data or b"Infinity" in data:
        return None
    return lines


@settings(max_examples=300, deadline=None)
@given(data=st.lists(st.sampled_from([b"{", b"}", b"\n", b"\n{", b"NaN", b"Infinity", b"Na",
                                      b"Infinit", b"N", b"I", b'"x":1', b" "]), max_size=40),
       step=st.sampled_from([1, 2, 3, 7, 8, 16]))
def test_the_line_check_reads_every_step_boundary_like_the_plain_rule(data, step):
    """The NumPy scan works in steps; a line start or a literal across a boundary must be
    seen as the plain bytes rule sees it."""
    text = b"".join(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ndjson, "_SCAN_BYTES", step)
        assert ndjson._json_lines(text) == _json_lines_plainly(text)
        assert ndjson._json_lines(bytearray(text)) == _json_lines_plainly(text)


@pytest.mark.parametrize("write", [
    lambda events: json.dumps(events),
    lambda events: json.dumps(events, separators=(",", ":")),
    lambda events: orjson.dumps(events).decode(),
    lambda events: json.dumps({"events": events}),
    lambda events: " \n" + orjson.dumps({"events": events}).decode() + "\r\n",
])
def test_json_bodies_as_clients_write_them_are_read_as_columns(write):
    """A list of events as `json.dumps`, orjson or an HTTP client's `json=` writes it, bare
    or as `{"events": [...]}`, takes the columnar reader and reads what parsing it does."""
    events = [{**row, "class": "car, red", "modelAssisted": i % 2 == 0} for i, row in enumerate(ROWS)]
    table = json_body_table(write(events).encode())
    assert table is not None and table.equals(raw_table(events))


@pytest.mark.parametrize("body, reason", [
    (json.dumps(ROWS, indent=2), "line breaks of its own: left to the parser"),
    ("[" + "\n".join(json.dumps(r) for r in ROWS) + "]", "no commas: not a JSON list"),
    ("[" + " ".join(json.dumps(r) for r in ROWS) + "]", "no commas: not a JSON list"),
    (json.dumps(ROWS)[:-1], "not closed"),
    (json.dumps(ROWS) + ",", "text after the list"),
    (json.dumps(ROWS).replace("}, {", "},, {", 1), "two commas"),
    (json.dumps(ROWS)[:-1] + ",]", "a trailing comma"),
    (json.dumps({"events": ROWS[:1], "also": 1}), "another key besides the list"),
    ('{"events": [' + json.dumps(ROWS[0]) + '], "events": [' + json.dumps(ROWS[1]) + "]}",
     "a repeated key: the parser keeps the last list"),
    (json.dumps([{**ROWS[0], "class": "a},{b"}]), "split inside a string: the parser decides"),
    ("[]", "no events"),
    ("[1, 2]", "not objects"),
])
def test_json_bodies_read_as_columns_only_when_that_is_what_parsing_reads(body, reason):
    assert json_body_table(body.encode()) is None, reason


# Lists built object by object from the lines above, joined by commas or by what is not
# a comma, and wrapped as clients wrap them or not quite.
_OBJECTS = st.builds(lambda entries, comma, trailing: "{" + comma.join(
    f'"{key}"{colon}{value}' for key, colon, value in entries) + trailing + "}",
    _ENTRIES, st.sampled_from([",", ", "]), st.sampled_from(["", "", "", ","]))
_BETWEEN = st.sampled_from([",", ",", ", ", ",\n", "\n", " ", "", ",,"])
_WRAPPERS = st.sampled_from(["[{}]", " [{}] ", '{{"events":[{}]}}', '{{ "events" : [ {} ] }}\n',
                             '{{"events":[{}],"events":[]}}', "[{}],[]", "[{}]]", "{{{}}}"])


@settings(max_examples=1000, deadline=None)
@given(objects=st.lists(_OBJECTS, min_size=1, max_size=4), between=_BETWEEN, wrapper=_WRAPPERS)
def test_a_json_body_read_as_columns_reads_what_parsing_it_reads(objects, between, wrapper):
    body = wrapper.format(between.join(objects)).encode()
    table = json_body_table(body)
    if table is not None:
        parsed = orjson.loads(body)
        events = parsed["events"] if isinstance(parsed, dict) else parsed
        assert table.equals(raw_table(events)), body
