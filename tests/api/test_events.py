"""SPEC §3 ingestion: body formats, per-event validation, atomic batches, idempotency."""

from __future__ import annotations

import orjson

from api.helpers import (
    ZERO_TOTALS, assert_error, bearer, client_with, event, iso_in, ingest_ok, post_events,
    post_ndjson, stats_ok)


ONE_NEW = {"accepted": 1, "duplicates": 0}


def without(body: dict, field: str) -> dict:
    return {k: v for k, v in body.items() if k != field}


def ok(n: int, **extra) -> dict:
    return event(f"e{n}", **extra)


# (raw event, field reported or None if the event is valid, words the message must hold)
RULES = [
    (ok(0), None, ""),
    (without(ok(1), "id"), "id", "required"),
    (without(ok(2), "type"), "type", "required"),
    (without(ok(3), "time"), "time", "required"),
    (without(ok(4), "project"), "project", "required"),
    (without(ok(5), "image"), "image", "required"),
    (without(ok(6), "labeler"), "labeler", "required"),
    (without(ok(7), "annotation"), "annotation", "required"),
    (without(ok(8, type_="annotation.updated"), "annotation"), "annotation", "required"),
    (ok(9, type_="annotation.deleted") | {"annotation": None}, "annotation", "required"),
    (ok(10) | {"id": 10}, "id", "string"),
    (ok(11) | {"id": ""}, "id", "1 to 128"),
    (ok(12) | {"id": "x" * 129}, "id", "1 to 128"),
    (ok(13) | {"id": "y" * 128}, None, ""),
    (ok(14, type_="annotation.moved"), "type", "must be one of annotation.created"),
    (ok(15) | {"type": 3}, "type", "must be one of"),
    (ok(16, time="2024-03-01T10:00:00"), "time", "offset"),
    (ok(17, time="2024-03-01"), "time", "RFC 3339"),
    (ok(18, time="2024-02-30T10:00:00Z"), "time", "not a real moment"),
    (ok(19, time="2024-03-01T24:30:00Z"), "time", "not a real moment"),
    (ok(20, time="2024-03-01T10:00:00+24:00"), "time", "not a real moment"),
    (ok(21) | {"time": 1709287200}, "time", "string"),
    (ok(22, time=iso_in(25)), "time", "24 hours in the future"),
    (ok(23, time=iso_in(23)), None, ""),
    (ok(24, time="２０２４-03-01T10:00:00Z"), "time", "RFC 3339"),
    (ok(25, project="Traffic Cams"), "project", "^[a-z0-9][a-z0-9._-]{0,99}$"),
    (ok(26, project="-cams"), "project", "slug"),
    (ok(27, project="p" * 101), "project", "slug"),
    (ok(28) | {"project": 7}, "project", "slug"),
    (ok(29) | {"image": 1}, "image", "string"),
    (ok(30, labeler=""), "labeler", "1 to 256"),
    (ok(31, image="i" * 257), "image", "1 to 256"),
    (ok(32, image="img\n1"), "image", "control characters"),
    (ok(33, labeler="al\x00ice"), "labeler", "control characters"),
    (ok(34) | {"annotation": "a\x7f"}, "annotation", "control characters"),
    (ok(35, session="s\t1"), "session", "control characters"),
    (ok(36, reviewer="\x1b[31mbob"), "reviewer", "control characters"),
    (ok(37) | {"class": "car\r"}, "class", "control characters"),
    (ok(38, session=12), "session", "string"),
    (ok(39, reviewer=["bob"]), "reviewer", "string"),
    (ok(40, modelAssisted="true"), "modelAssisted", "true or false"),
    (ok(41, modelAssisted=1), "modelAssisted", "true or false"),
    ("just a string", None, "JSON object"),
    ([ok(43)], None, "JSON object"),
    (ok(44, type_="image.approved"), None, ""),
    (ok(45, colour="red", nested={"a": [1]}), None, ""),
]


def test_every_invalid_event_is_reported_at_its_index_and_field(client, tenant):
    response = post_events(client, tenant.write, [raw for raw, _, _ in RULES])
    invalid = [(i, field, words) for i, (raw, field, words) in enumerate(RULES)
               if field is not None or not isinstance(raw, dict)]
    error = assert_error(response, 400, "invalid_events",
                         f"{len(invalid)} of {len(RULES)} events are invalid", "nothing was stored")
    assert [(d["index"], d["field"]) for d in error["details"]] == [(i, f) for i, f, _ in invalid]
    for detail, (_, _, words) in zip(error["details"], invalid):
        assert words in detail["message"], detail
    assert stats_ok(client, tenant.read, startDate="2024-01-01", endDate="2025-12-31")["stats"] \
        == ZERO_TOTALS


def test_one_bad_event_stores_nothing_from_its_batch(client, tenant):
    ingest_ok(client, tenant.write, [event("first", image="img0")])
    before = stats_ok(client, tenant.read)
    batch = [event(f"e{i}", image=f"img{i}", project="new") for i in range(5)]
    response = post_events(client, tenant.write, batch + [event("bad", time="yesterday")])
    error = assert_error(response, 400, "invalid_events", "1 of 6", "nothing was stored")
    assert [(d["index"], d["field"]) for d in error["details"]] == [(5, "time")]
    assert stats_ok(client, tenant.read) == before
    projects = client.get("/acme/projects", headers=bearer(tenant.read)).json()
    assert [p["slug"] for p in projects] == ["p"]
    assert ingest_ok(client, tenant.write, batch) == {"accepted": 5, "duplicates": 0}


def test_error_list_is_capped_but_the_count_is_exact(client, tenant):
    response = post_events(client, tenant.write, [{"id": str(i)} for i in range(1001)])
    error = assert_error(response, 400, "invalid_events", "1001 of 1001")
    assert len(error["details"]) == 1000
    assert error["details"][-1]["index"] == 999


def test_json_array_events_object_and_ndjson_are_all_accepted(client, tenant):
    extra = {"colour": "red", "meta": {"tool": "cvat", "v": [1, 2]}, "score": 0.9, "type2": None}
    assert ingest_ok(client, tenant.write, [event("a1", image="i1") | extra]) == ONE_NEW
    wrapped = {"events": [event("a2", image="i2")], "source": "tool"}
    assert ingest_ok(client, tenant.write, wrapped) == ONE_NEW
    lines = b"\n".join([orjson.dumps(event("a3", image="i3")), b"", b"   ",
                        orjson.dumps(event("a4", image="i4")), b""])
    response = post_ndjson(client, tenant.write, lines)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0}
    crlf = b"\r\n\r\n".join([orjson.dumps(event("a5", image="i5")),
                              orjson.dumps(event("a6", image="i6"))])
    response = post_ndjson(client, tenant.write, crlf,
                           content_type="application/x-ndjson; charset=utf-8")
    assert response.json() == {"accepted": 2, "duplicates": 0}
    assert stats_ok(client, tenant.read)["stats"]["numImagesLabeled"] == 6
    assert ingest_ok(client, tenant.write, []) == {"accepted": 0, "duplicates": 0}
    assert ingest_ok(client, tenant.write, {"events": []}) == {"accepted": 0, "duplicates": 0}
    assert post_ndjson(client, tenant.write, b"\n\n").json() == {"accepted": 0, "duplicates": 0}


def test_bodies_that_are_not_event_batches_are_400(client, tenant):
    headers = bearer(tenant.write) | {"Content-Type": "application/json"}
    for body in (b"[{\"id\": \"a\"", b"", b"{'events': []}", b"\xff\xfe"):
        response = client.post("/acme/events", content=body, headers=headers)
        assert_error(response, 400, "invalid_json", "not valid JSON")
    for body in (b'{"event": []}', b'{"events": {"id": "x"}}', b'"events"', b"3", b"null"):
        response = client.post("/acme/events", content=body, headers=headers)
        assert_error(response, 400, "bad_request", "JSON array of events", "application/x-ndjson")
    body = orjson.dumps(event("a1")) + b"\n\n{not json\n"
    assert_error(post_ndjson(client, tenant.write, body), 400, "invalid_json", "Line 3", "NDJSON")
    body = orjson.dumps(event("a1")) + b"\n" + orjson.dumps(event("a2", image="i\u00ff")).replace(
        b"\xc3\xbf", b"\xff")
    assert_error(post_ndjson(client, tenant.write, body), 400, "invalid_json", "Line 2", "NDJSON")
    body = b"\n" + orjson.dumps(event("a1")) + b"\n" + orjson.dumps(without(event("a2"), "image"))
    error = assert_error(post_ndjson(client, tenant.write, body), 400, "invalid_events", "1 of 2")
    assert [(d["index"], d["field"]) for d in error["details"]] == [(1, "image")]


def test_duplicates_within_a_batch_count_once_and_the_first_wins(client, tenant):
    batch = [event("a1", image="i1"), event("a2", image="i2"),
             event("a1", "image.marked_null", image="i9", project="other")]
    assert ingest_ok(client, tenant.write, batch) == {"accepted": 2, "duplicates": 1}
    body = stats_ok(client, tenant.read)
    assert [row["projectId"] for row in body["data"]] == ["p"]
    assert body["stats"]["numBoxesAdded"] == 2
    assert body["stats"]["numImagesMarkedNull"] == 0


def test_resent_ids_are_duplicates_and_change_no_number(client, tenant, other):
    first = [event(f"a{i}", image=f"i{i}") for i in range(3)]
    assert ingest_ok(client, tenant.write, first) == {"accepted": 3, "duplicates": 0}
    before = stats_ok(client, tenant.read)
    assert ingest_ok(client, tenant.write, first) == {"accepted": 0, "duplicates": 3}
    changed = [event("a0", "annotation.deleted", image="i0"),
               event("a1", "image.approved", project="elsewhere", labeler="mallory"),
               event("a2", "annotation.created", time="2024-03-20T10:00:00Z", image="i99")]
    assert ingest_ok(client, tenant.write, changed) == {"accepted": 0, "duplicates": 3}
    assert stats_ok(client, tenant.read) == before
    lines = orjson.dumps(first[0]) + b"\n" + orjson.dumps(event("a3"))
    response = post_ndjson(client, tenant.write, lines)
    assert response.json() == {"accepted": 1, "duplicates": 1}
    names = client.get("/acme/projects", headers=bearer(tenant.read)).json()
    assert [p["slug"] for p in names] == ["p"]
    labelers = client.get("/acme/labelers", headers=bearer(tenant.read)).json()
    assert [labeler["id"] for labeler in labelers] == ["alice"]
    assert ingest_ok(client, other.write, first, workspace="other") \
        == {"accepted": 3, "duplicates": 0}, "event ids are unique per workspace only"


def test_an_acknowledged_event_is_in_the_very_next_stats_query(client, tenant):
    for n in range(1, 4):
        ingest_ok(client, tenant.write, [event(f"a{n}", image=f"i{n}")])
        assert stats_ok(client, tenant.read)["stats"]["numBoxesAdded"] == n
    ingest_ok(client, tenant.write, [event("r1", "image.approved", image="i1")])
    assert stats_ok(client, tenant.read)["stats"]["approvalRate"] == 100


def test_real_limits_10_000_events_and_16_mib(client, tenant):
    batch = [event(f"e{i}", image=f"img{i % 500}") for i in range(10_000)]
    assert ingest_ok(client, tenant.write, batch) == {"accepted": 10_000, "duplicates": 0}
    response = post_events(client, tenant.write, batch + [event("one-too-many")])
    assert_error(response, 413, "payload_too_large", "at most 10000 events", "10001")
    lines = b"\n".join(orjson.dumps(e) for e in batch + [event("one-too-many")])
    assert_error(post_ndjson(client, tenant.write, lines), 413, "payload_too_large", "10001")
    assert stats_ok(client, tenant.read)["stats"]["numBoxesAdded"] == 10_000
    limit = 16 * 1024 * 1024
    exact = b"[" + b" " * (limit - 2) + b"]"
    headers = bearer(tenant.write) | {"Content-Type": "application/json"}
    response = client.post("/acme/events", content=exact, headers=headers)
    assert response.json() == {"accepted": 0, "duplicates": 0}
    response = client.post("/acme/events", content=exact + b" ", headers=headers)
    assert_error(response, 413, "payload_too_large", "exceeds 16 MiB", "smaller batches")


def test_lowered_limits_refuse_counts_declared_and_streamed_bodies(db, database_url, tenant):
    def chunks(total: int):
        yield b"["
        for _ in range(total // 100):
            yield b" " * 100
        yield b"]"

    with client_with(db, database_url, max_batch_events=3, max_body_bytes=2048) as client:
        assert ingest_ok(client, tenant.write, [event(f"e{i}") for i in range(3)])["accepted"] == 3
        response = post_events(client, tenant.write, [event(f"f{i}") for i in range(4)])
        assert_error(response, 413, "payload_too_large", "at most 3 events", "has 4")
        headers = bearer(tenant.write) | {"Content-Type": "application/json"}
        response = client.post("/acme/events", content=b"[" + b" " * 2047 + b"]", headers=headers)
        assert_error(response, 413, "payload_too_large", "exceeds 2,048 bytes")
        response = client.post("/acme/events", content=chunks(3000), headers=headers)
        assert "content-length" not in response.request.headers
        assert_error(response, 413, "payload_too_large", "exceeds 2,048 bytes")
        assert client.post("/acme/events", content=chunks(1000), headers=headers).status_code == 200
        assert stats_ok(client, tenant.read)["stats"]["numBoxesAdded"] == 3
