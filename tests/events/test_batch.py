"""The columnar check must never accept what the per-event validator rejects, and must
store exactly what it would store; it may only be stricter (the batch then takes the
per-event path). These tests compare the two on hostile single events."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation_insights.errors import InvalidEvents
from annotation_insights.events import engine
from annotation_insights.events.batch import (PYTHON_BATCH_MAX, _keys, batch_of_events, checked_batch, event_keys,
                                              raw_table)
from annotation_insights.events.ingest import latest_allowed_us, validate_batch
from annotation_insights.events.schema import EVENT_TYPES, EventError, validate_event
from annotation_insights.store.queries import batch as batch_sql

LATEST = latest_allowed_us()
STORED = ("id", "type", "time_us", "project", "image", "labeler", "annotation", "session",
          "model_assisted", "reviewer", "class_")

texts = st.one_of(
    st.sampled_from(["a", "img-1", "zoë 👩‍🔬", "x" * 128, "x" * 129, "ł" * 256, "ł" * 257, "",
                     "a\x00b", "tab\there", "del\x7f", "c1\x9f", "nbsp\xa0ok", "e\u0301"]),
    st.text(max_size=8))
times = st.one_of(
    st.sampled_from([
        "2024-03-01T10:00:00Z", "2024-03-01t10:00:00z", "2024-03-01 10:00:00+01:00",
        "2024-03-01T10:00:00.5Z", "2024-03-01T10:00:00.123456789Z", "2024-03-01T10:00:00.1234567+05:30",
        "2024-02-29T23:59:59-23:59", "2023-02-29T10:00:00Z", "2024-03-01T24:00:00Z",
        "2024-03-01T23:59:60Z", "2024-03-01T10:60:00Z", "2024-03-01T10:00:00+24:00",
        "2024-03-01T10:00:00+23:60", "0000-03-01T10:00:00Z", "0001-01-01T23:00:00-01:00",
        "0001-01-02T00:00:00Z", "0001-01-01T23:59:59.999999Z", "2024-03-01T10:00:00",
        "2024-03-01T10:00Z", "2024-3-01T10:00:00Z", "２０２４-03-01T10:00:00Z", "9999-12-31T23:59:59Z",
        "2024-03-01T10:00:00.Z", " 2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z "]),
    st.builds(lambda d, h, f, o: f"2024-{d}T{h}{f}{o}",
              st.sampled_from(["01-01", "12-31", "02-29", "04-31", "06-15"]),
              st.sampled_from(["00:00:00", "23:59:59", "12:34:56"]),
              st.sampled_from(["", ".0", ".000001", ".9999999"]),
              st.sampled_from(["Z", "+00:00", "-00:00", "+13:45", "-09:30", "+23:59"])))
events = st.fixed_dictionaries(
    {"id": texts, "type": st.sampled_from([*EVENT_TYPES, "image.deleted"]), "time": times,
     "project": st.sampled_from(["p", "p-1.a_b", "P", "-p", "p" * 100, "p" * 101, "p/q", "ü"]),
     "image": texts, "labeler": texts},
    optional={"annotation": texts, "session": texts, "reviewer": texts, "class": texts,
              "modelAssisted": st.sampled_from([True, False, None])})


def _python(raw: dict):
    try:
        event = validate_event(raw, latest_time_us=LATEST)
    except EventError:
        return None
    return tuple(getattr(event, name) for name in STORED)


def _columnar(raw: dict):
    batch = checked_batch(raw_table([raw]), latest_us=LATEST)
    if batch is None:
        return None
    return tuple(batch.table.to_pylist()[0].values())


@settings(max_examples=400, deadline=None)
@given(raw=events)
def test_the_columnar_check_accepts_only_what_python_accepts_and_stores_the_same(raw):
    columnar = _columnar(raw)
    if columnar is not None:
        assert columnar == _python(raw)


@pytest.mark.parametrize("raw", [
    {"id": "e1", "type": "annotation.created", "time": "2024-03-01T10:00:00Z", "project": "p",
     "image": "i", "labeler": "l", "annotation": "a", "modelAssisted": True, "class": "car"},
    {"id": "e2", "type": "image.approved", "time": "2024-03-01T10:00:00.123+05:30", "project": "p",
     "image": "i", "labeler": "l", "reviewer": "r"},
    {"id": "e3", "type": "image.marked_null", "time": "2024-03-01 10:00:00-04:00", "project": "p",
     "image": "i", "labeler": "zoë 👩‍🔬", "session": "s1", "ignored": {"nested": [1]}},
])
def test_typical_events_take_the_columnar_path(raw):
    assert _columnar(raw) == _python(raw) is not None


def test_a_batch_with_one_bad_event_reports_it_as_the_python_validator_words_it():
    good = {"id": "e1", "type": "image.marked_null", "time": "2024-03-01T10:00:00Z",
            "project": "p", "image": "i", "labeler": "l"}
    with pytest.raises(InvalidEvents) as caught:
        validate_batch([good, {**good, "id": "e2", "time": "2024-03-01T24:00:00Z"}, {**good, "id": 7}])
    assert [(d["index"], d["field"]) for d in caught.value.details] == [(1, "time"), (2, "id")]


def test_repeated_ids_in_a_batch_keep_the_first_and_count_as_received():
    first = {"id": "e1", "type": "image.marked_null", "time": "2024-03-01T10:00:00Z",
             "project": "p", "image": "first", "labeler": "l"}
    batch = validate_batch([first, {**first, "image": "second"}, {**first, "id": "e2"}])
    assert (len(batch), batch.received) == (2, 3)
    assert batch.table.column("image").to_pylist() == ["first", "first"]


@settings(max_examples=300, deadline=None)
@given(moments=st.lists(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
                        min_size=1, max_size=5),
       digits=st.integers(0, 7), separator=st.sampled_from(["T", " ", "t"]),
       zone=st.sampled_from(["Z", "z", "+00:00", "-00:00", "-05:30", "+23:59", "+24:00", "+01:60"]))
def test_a_batch_of_plain_times_stores_the_instants_the_validator_reads(moments, digits, separator,
                                                                      zone):
    """Times all written `YYYY-MM-DDTHH:MM:SS[.f]` then `Z` or `±hh:mm` (up to six digits
    of fraction) are read in place rather than by the engine's pattern; any batch stores
    the instants the Python validator reads."""
    fraction = "." + "1234567"[:digits] if digits else ""
    texts = [f"{m.year:04d}-{m.month:02d}-{m.day:02d}{separator}{m.hour:02d}:{m.minute:02d}:"
             f"{m.second:02d}{fraction}{zone}" for m in moments]
    raw = [{"id": f"e{i}", "type": "image.marked_null", "time": text, "project": "p",
            "image": "i", "labeler": "l"} for i, text in enumerate(texts)]
    checked = checked_batch(raw_table(raw), latest_us=LATEST)
    python = [_python(event) for event in raw]
    if checked is not None:
        assert checked.table.column("time_us").to_pylist() == [event[2] for event in python]
    if separator == "T" and digits <= 6 and zone != "z" and None not in python:
        assert checked is not None


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(texts, max_size=6))
def test_a_small_batchs_ids_get_the_identities_the_batch_engine_gives_them(ids):
    """Small batches are keyed in Python, larger ones by the engine: an event re-sent in
    a batch of the other size must still be known as the same event."""
    table = pa.table({"event_id": pa.array(ids, pa.string())})
    engine_keys = _keys(engine.run(batch_sql.EVENT_ID_KEYS, batch_events=table))
    assert event_keys(ids).tolist() == engine_keys.tolist()


def test_an_event_resent_in_a_large_batch_is_the_one_stored_from_a_small_one():
    good = {"type": "image.marked_null", "time": "2024-03-01T10:00:00Z", "project": "p",
            "image": "i", "labeler": "l"}
    small = validate_batch([{**good, "id": "zoë-1"}])
    large = validate_batch([{**good, "id": f"e{i}"} for i in range(PYTHON_BATCH_MAX)]
                           + [{**good, "id": "zoë-1"}])
    assert small.keys[0] == large.keys[-1]
    one = validate_event({**good, "id": "zoë-1"}, latest_time_us=LATEST)
    assert batch_of_events([one]).keys[0] == small.keys[0]
