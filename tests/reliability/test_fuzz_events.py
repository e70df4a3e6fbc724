"""Hostile input to POST /{workspace}/events (issue 7.3), fuzzed with hypothesis.

Every malformed request — bytes that are not JSON, NDJSON with a bad line, wrong types,
overlong or control-character ids, SQL-looking slugs, impossible or far-future
timestamps, deep nesting, oversized bodies — gets a 4xx in the one error shape and
stores nothing (the batch is atomic: one bad event among good ones stores none).
Hostile strings that are *valid* ids (SQL-looking, any unicode) are stored verbatim and
counted like any other.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation_insights.events.schema import EVENT_TYPES, PROJECT_SLUG
from api.helpers import ERROR_KEYS, bearer
from reliability.harness import engine_stats

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SQL = ["'; DROP TABLE events; --", "\" OR 1=1 --", "x') UNION SELECT key_hash FROM api_keys --",
       "1; DELETE FROM workspaces", "$1", "%(workspace_id)s", ":workspace_id", "?", "\\", "' OR ''='",
       "Robert'); DROP TABLE labelers;--", "/*", "*/", "NULL", "null", "%s%s%s"]
WRONG_TYPES = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                        st.lists(st.integers(), max_size=3),
                        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
CONTROL = st.sampled_from(["\x00", "\x01", "\n", "\r", "\t", "\x1b", "\x7f", "\x85", "\x9f"])


def valid_event(i: int) -> dict:
    return {"id": f"ok-{i}", "type": "annotation.created", "time": "2026-03-01T10:00:00Z",
            "project": "p", "image": f"img{i}", "labeler": "alice", "annotation": f"a{i}"}


@st.composite
def with_control(draw, max_len: int) -> str:
    text = draw(st.text(max_size=max_len - 1))
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(CONTROL) + text[at:]


def bad_text(max_len: int):
    """Values no id field may hold (besides a missing one)."""
    return st.one_of(st.just(""), st.text(min_size=max_len + 1, max_size=max_len + 40),
                     with_control(max_len), WRONG_TYPES)


BAD_TIMES = st.one_of(
    st.sampled_from([
        "2026-03-01T10:00:00", "2026-03-01 10:00", "2026-03-01", "10:00:00Z", "2026-02-29T10:00:00Z",
        "2026-13-01T10:00:00Z", "2026-03-32T10:00:00Z", "2026-03-01T24:00:00Z", "2016-12-31T23:59:60Z",
        "2026-03-01T10:00:00+24:00", "2026-03-01T10:00:00+05:60", "2026-03-01T10:00:00+0500",
        "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z",
        "2026-03-01T10:00:00.Z", "２０２６-03-01T10:00:00Z", "+2026-03-01T10:00:00Z", "1e9", "now", "",
        "2026-03-01T10:00:00Z\n", " 2026-03-01T10:00:00Z"]),
    st.text(max_size=30).filter(lambda s: not s[:4].isdigit()),
    WRONG_TYPES)
BAD_FIELDS = {
    "id": st.one_of(st.just(""), st.text(min_size=129, max_size=160), with_control(128), WRONG_TYPES),
    "type": st.one_of(st.text(max_size=30).filter(lambda s: s not in EVENT_TYPES), WRONG_TYPES,
                      st.sampled_from(["Annotation.Created", "annotation.created ", "annotation.*"])),
    "time": BAD_TIMES,
    "project": st.one_of(st.sampled_from([s for s in SQL if not PROJECT_SLUG.fullmatch(s)]), st.text(max_size=110).filter(
        lambda s: not PROJECT_SLUG.fullmatch(s)), WRONG_TYPES, st.just("a" * 101)),
    "image": bad_text(256), "labeler": bad_text(256), "annotation": bad_text(256),
    "session": bad_text(256), "reviewer": bad_text(256), "class": bad_text(256),
    "modelAssisted": st.one_of(st.integers(), st.text(max_size=5), st.lists(st.booleans(), max_size=2)),
}
REQUIRED = ("id", "type", "time", "project", "image", "labeler", "annotation")


def assert_rejected(response, *statuses: int) -> dict:
    assert response.status_code in (statuses or (400,)), response.text[:300]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS
    assert body["error"]["status"] == response.status_code
    return body["error"]


def stored(db) -> int:
    return db.read("SELECT count(*) FROM events")[0][0] + db.read("SELECT count(*) FROM sessions")[0][0]


@pytest.mark.parametrize("field", sorted(BAD_FIELDS))
@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_one_bad_field_rejects_the_whole_batch(client, db, tenant, field, data):
    good = [valid_event(i) for i in range(data.draw(st.integers(0, 4), label="good"))]
    bad = valid_event(99)
    if field in REQUIRED and data.draw(st.booleans(), label="missing"):
        del bad[field]
    else:
        bad[field] = data.draw(BAD_FIELDS[field], label="value")
    index = data.draw(st.integers(0, len(good)), label="index")
    batch = good[:index] + [bad] + good[index:]
    error = assert_rejected(client.post("/acme/events", json=batch, headers=bearer(tenant.write)))
    assert error["code"] == "invalid_events"
    assert [(d["index"], d["field"]) for d in error["details"]] == [(index, field)]
    assert stored(db) == 0


@FUZZ
@given(body=st.binary(max_size=300), ndjson=st.booleans())
def test_arbitrary_bytes_store_nothing(client, db, tenant, body, ndjson):
    kind = "application/x-ndjson" if ndjson else "application/json"
    response = client.post("/acme/events", content=body,
                           headers=bearer(tenant.write) | {"Content-Type": kind})
    if response.status_code == 200:  # e.g. "[]" or blank lines: a valid, empty batch
        assert response.json() == {"accepted": 0, "duplicates": 0}
    else:
        assert_rejected(response, 400)
    assert stored(db) == 0


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=20)


@FUZZ
@given(payload=JSON)
def test_arbitrary_json_stores_nothing(client, db, tenant, payload):
    response = client.post("/acme/events", json=payload, headers=bearer(tenant.write))
    if response.status_code == 200:
        assert response.json()["accepted"] == 0
    else:
        assert_rejected(response, 400)
    assert stored(db) == 0


@FUZZ
@given(data=st.data())
def test_one_bad_ndjson_line_stores_nothing(client, db, tenant, data):
    lines = [json.dumps(valid_event(i)) for i in range(data.draw(st.integers(1, 4)))]
    garbage = data.draw(st.one_of(
        st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and not _is_json_object(s)),
        st.sampled_from(["[]", "1", '"text"', "null", "{", '{"id": "x",}', "\ufeff{}"])))
    lines.insert(data.draw(st.integers(0, len(lines))), garbage.replace("\n", " ").replace("\r", " "))
    response = client.post("/acme/events", content="\n".join(lines).encode(),
                           headers=bearer(tenant.write) | {"Content-Type": "application/x-ndjson"})
    assert_rejected(response, 400)
    assert stored(db) == 0


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_is_400_not_a_crash(client, db, tenant, depth):
    for body in (b"[" * depth + b"]" * depth,
                 b'[{"id": "x", "class": ' + b"[" * depth + b"]" * depth + b"}]",
                 b'{"events": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"):
        assert_rejected(client.post("/acme/events", content=body,
                                    headers=bearer(tenant.write) | {"Content-Type": "application/json"}))
    assert stored(db) == 0


def test_huge_bodies_are_413_however_they_arrive(client, db, tenant):
    limit = client.app.state.settings.max_body_bytes
    chunk = b" " * (1 << 20)

    def stream():
        yield b"["
        for _ in range(limit // len(chunk) + 1):
            yield chunk
        yield b"]"

    headers = bearer(tenant.write) | {"Content-Type": "application/json"}
    assert_rejected(client.post("/acme/events", content=stream(), headers=headers), 413)
    assert_rejected(client.post("/acme/events", content=b"[]",
                                headers=headers | {"Content-Length": str(limit + 1)}), 413, 400)
    many = [valid_event(i) for i in range(client.app.state.settings.max_batch_events + 1)]
    assert_rejected(client.post("/acme/events", json=many, headers=bearer(tenant.write)), 413)
    assert stored(db) == 0


@FUZZ
@given(data=st.data())
def test_hostile_but_valid_ids_are_stored_verbatim(client, db, tenant, data):
    text = st.one_of(st.sampled_from(SQL), st.text(
        alphabet=st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=256))
    value = {f: data.draw(text, label=f) for f in ("image", "labeler", "annotation", "session", "class")}
    event_id = data.draw(st.one_of(st.sampled_from(SQL), st.text(
        alphabet=st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=128)), label="id")
    before = db.read("SELECT count(*) FROM events")[0][0]
    event = {"id": event_id, "type": "annotation.created", "time": "2026-03-01T10:00:00Z",
             "project": "p", **value}
    response = client.post("/acme/events", json=[event], headers=bearer(tenant.write))
    assert response.status_code == 200, response.text
    accepted = response.json()["accepted"]
    assert db.read("SELECT count(*) FROM events")[0][0] == before + accepted
    row = db.read("SELECT image, labeler, annotation, session, class FROM events WHERE event_id = :id",
                  {"id": event_id})
    assert len(row) == 1
    if accepted:
        assert row[0] == tuple(value[f] for f in ("image", "labeler", "annotation", "session", "class"))
    labelers = client.get("/acme/labelers", headers=bearer(tenant.read)).json()
    assert value["labeler"] in {lab["id"] for lab in labelers} or not accepted
    for table in ("workspaces", "api_keys", "labelers", "events"):
        assert db.read(f"SELECT count(*) FROM {table}")[0][0] > 0


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


EDGE_TIMES = ["0001-01-02T00:00:00Z", "1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z",
              "2000-02-29T23:59:59.123456789+14:00", "2026-03-01T00:00:00-12:00",
              "2026-03-29T01:30:00+01:00", "2026-11-01T01:30:00-05:00"]


@pytest.mark.parametrize("timezone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin"])
def test_timestamps_at_the_edges_are_accepted_and_dated_locally(client, db, timezone):
    from conftest import make_tenant
    from support.reference_model import local_date

    tenant = make_tenant(db, "edge", timezone=timezone)
    near_future = _iso(dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(hours=23))
    times = EDGE_TIMES + [near_future]
    events = [{"id": f"t{i}", "type": "image.marked_null", "time": t, "project": "p",
               "image": f"img{i}", "labeler": "alice"} for i, t in enumerate(times)]
    response = client.post("/edge/events", json=events, headers=bearer(tenant.write))
    assert response.status_code == 200, response.text
    for event in events:
        day = local_date(event["time"].replace(".123456789", ".123456"), timezone).isoformat()
        answer = engine_stats(db, tenant.workspace, day, day, availability=dt.date(1, 1, 1))
        assert answer["stats"]["numImagesMarkedNull"] >= 1, (event["time"], day)
    too_far = _iso(dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=25))
    error = assert_rejected(client.post("/edge/events", json=[{**events[0], "id": "late", "time": too_far}],
                                        headers=bearer(tenant.write)))
    assert error["details"][0]["field"] == "time"
