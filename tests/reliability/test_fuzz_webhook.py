"""Hostile input to the Label Studio webhook (issue 7.3), and replayed deliveries.

Real recorded deliveries (Label Studio 1.23.2) are mutated at a random place — a wrong
type, a NUL or control character, an unhashable id, a huge or SQL-looking string, deep
nesting — and posted. The answer is 200 (a delivery that still makes sense) or a 4xx
in the one error shape that stored nothing; never a 5xx. Replaying every delivery, in
any order and any number of times, changes no number.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.helpers import ERROR_KEYS, bearer

WEBHOOKS = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "label-studio-1.23.2" / "webhooks.ndjson"
HOOK = "/acme/integrations/label-studio"
FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def deliveries() -> list[dict]:
    if not WEBHOOKS.exists():
        pytest.fail(f"the recorded Label Studio deliveries are missing: {WEBHOOKS}")
    bodies = [json.loads(line)["body"] for line in WEBHOOKS.read_text().splitlines() if line.strip()]
    return [b for b in bodies if b["action"].startswith("ANNOTATION")]


def paths(value, prefix=()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, prefix + (index,))
    return found


def replace(body, path: tuple, new):
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new


HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "\x00", "a\x00b", "\n", "\x1b[31m", "'; DROP TABLE events; --", "画像",
                     "0001-01-01T00:00:00", "9999-12-31T23:59:59Z", "not a time", "-1", "[]"]),
    st.text(max_size=20), st.text(min_size=300, max_size=400),
    st.lists(st.integers(), max_size=3), st.lists(st.lists(st.text(max_size=3), max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
    st.integers(1, 60).map(lambda d: json.loads("[" * d + "]" * d)))


def state(db) -> tuple:
    return (db.read("SELECT count(*) FROM events")[0][0],
            db.read("SELECT count(*), coalesce(sum(version_us), 0) FROM label_studio_annotations")[0])


def check_answer(response, db, before) -> None:
    assert response.status_code < 500, response.text[:300]
    if response.status_code != 200:
        assert 400 <= response.status_code < 500
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS
        assert state(db) == before


@FUZZ
@given(data=st.data())
def test_mutated_deliveries_never_fail_the_server(client, db, tenant, data):
    body = copy.deepcopy(data.draw(st.sampled_from(deliveries()), label="delivery"))
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(paths(body)), label="path")
        replace(body, path, data.draw(HOSTILE, label="value"))
    before = state(db)
    check_answer(client.post(HOOK, json=body, headers=bearer(tenant.write)), db, before)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.sampled_from(["action", "project", "annotation", "annotations",
                                                       "task", "tasks", "id", "result", "created_at",
                                                       "updated_at", "completed_by", "value"]) | st.text(max_size=5),
                                      children, max_size=5), max_leaves=25)


@FUZZ
@given(body=JSON, action=st.sampled_from(["ANNOTATION_CREATED", "ANNOTATION_UPDATED",
                                          "ANNOTATIONS_CREATED", "ANNOTATIONS_DELETED", None]))
def test_arbitrary_json_never_fails_the_server(client, db, tenant, body, action):
    if action and isinstance(body, dict):
        body["action"] = action
    before = state(db)
    check_answer(client.post(HOOK, json=body, headers=bearer(tenant.write)), db, before)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b'"\\ud800"',
                                 b'{"action": "ANNOTATION_CREATED", "annotation": ' + b"[" * 2000 + b"]" * 2000 + b"}"])
def test_malformed_bodies_are_400(client, db, tenant, raw):
    before = state(db)
    response = client.post(HOOK, content=raw, headers=bearer(tenant.write) | {"Content-Type": "application/json"})
    assert response.status_code == 400
    check_answer(response, db, before)


def test_replayed_and_reordered_deliveries_change_no_number(client, db, tenant):
    recorded = deliveries()
    for body in recorded:
        assert client.post(HOOK, json=body, headers=bearer(tenant.write)).status_code == 200
    range_ = {"startDate": "2026-01-01", "endDate": "2026-12-31"}
    first = client.get("/acme/stats", params=range_, headers=bearer(tenant.read)).json()
    events_after_first = state(db)
    assert first["stats"]["numBoxesAdded"] > 0
    rng = random.Random(7)
    for _ in range(3):
        replay = recorded * 2
        rng.shuffle(replay)
        for body in replay:
            response = client.post(HOOK, json=body, headers=bearer(tenant.write))
            assert response.status_code == 200 and response.json()["accepted"] == 0, response.text
    assert client.get("/acme/stats", params=range_, headers=bearer(tenant.read)).json() == first
    assert state(db) == events_after_first
