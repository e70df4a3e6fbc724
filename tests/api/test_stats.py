"""SPEC §6 `GET /{workspace}/stats`: parameters, errors, availability, shape, order, filters,
and local dates in the workspace timezone."""

from __future__ import annotations

import datetime as dt

from annotation_insights.metrics.query import availability_notice
from api.helpers import (
    ROW_KEYS, TOTAL_KEYS, ZERO_TOTALS, assert_error, client_with, event, get_stats, ingest_ok,
    stats_ok)
from conftest import make_tenant

DEFAULT_NOTICE = availability_notice(dt.date(2023, 8, 1))

# (project, labeler) pairs deliberately not in insertion order, with case and punctuation
# that a database collation would sort differently from code points.
PAIRS = [("p2", "bob"), ("p10", "alice"), ("p2", "Alice"), ("p.1", "bob"), ("p10", "Zed")]


def ingest_pairs(client, tenant) -> None:
    events = []
    for n, (project, labeler) in enumerate(PAIRS):
        events += [event(f"c{n}", project=project, labeler=labeler, image=f"img{n}"),
                   event(f"n{n}", "image.marked_null", project=project, labeler=labeler,
                         image=f"null{n}")]
    ingest_ok(client, tenant.write, events)


def pairs_of(body: dict) -> list[tuple[str, str]]:
    return [(row["projectId"], row["labelerId"]) for row in body["data"]]


def day(date: str) -> dict:
    return {"startDate": date, "endDate": date}


def test_missing_dates_are_400_naming_the_parameter(client, tenant):
    cases = [({}, "startDate"), ({"startDate": "2024-03-01"}, "endDate"),
             ({"endDate": "2024-03-01"}, "startDate"),
             ({"startDate": "", "endDate": "2024-03-01"}, "startDate")]
    for params, missing in cases:
        assert_error(get_stats(client, tenant.read, **params), 400, "bad_request",
                     f"Missing required parameter {missing}", "YYYY-MM-DD")


def test_malformed_and_impossible_dates_are_400(client, tenant):
    malformed = ["2024-3-1", "2024-03-01T00:00", "03/01/2024", "20240301", "2024-03-01 ",
                 "２０２４-03-01", "yesterday"]
    for value in malformed:
        for name, other in (("startDate", "endDate"), ("endDate", "startDate")):
            response = get_stats(client, tenant.read, **{name: value, other: "2024-03-01"})
            assert_error(response, 400, "bad_request", name, "YYYY-MM-DD format", repr(value))
    for value in ("2024-02-30", "2023-02-29", "2024-13-01", "2024-04-31", "0000-01-01"):
        response = get_stats(client, tenant.read, startDate=value, endDate="2024-12-31")
        assert_error(response, 400, "bad_request",
                     f"startDate {value!r} is not a real calendar date")
    assert get_stats(client, tenant.read, **day("2024-02-29")).status_code == 200


def test_start_after_end_is_400_and_a_single_day_is_fine(client, tenant):
    response = get_stats(client, tenant.read, startDate="2024-03-02", endDate="2024-03-01")
    assert_error(response, 400, "bad_request", "startDate 2024-03-02 is after endDate 2024-03-01")
    assert get_stats(client, tenant.read, **day("2024-03-01")).status_code == 200


def test_unknown_project_is_404_and_unknown_user_is_an_empty_answer(client, tenant):
    ingest_ok(client, tenant.write, [event("e1")])
    response = get_stats(client, tenant.read, project="nope", startDate="2024-03-01",
                         endDate="2024-03-31")
    assert_error(response, 404, "not_found", "No project 'nope'", "'acme'")
    assert stats_ok(client, tenant.read, userId="nobody") == {
        "data": [], "labelers": [], "meta": {"notices": [DEFAULT_NOTICE]}, "stats": ZERO_TOTALS}


def test_a_start_before_availability_is_clamped_with_a_notice(client, tenant):
    ingest_ok(client, tenant.write, [event("old", time="2023-07-31T12:00:00Z", image="i1"),
                                     event("new", time="2023-08-01T12:00:00Z", image="i2")])
    body = stats_ok(client, tenant.read, startDate="2023-01-01", endDate="2023-12-31")
    assert body["meta"]["notices"][0] == DEFAULT_NOTICE
    assert len(body["meta"]["notices"]) == 2
    assert "2023-01-01" in body["meta"]["notices"][1] and "2023-08-01" in body["meta"]["notices"][1]
    assert body["stats"]["numBoxesAdded"] == 1
    body = stats_ok(client, tenant.read, startDate="2023-08-01", endDate="2023-12-31")
    assert body["meta"]["notices"] == [DEFAULT_NOTICE]
    assert body["stats"]["numBoxesAdded"] == 1
    body = stats_ok(client, tenant.read, startDate="2023-01-01", endDate="2023-07-31")
    assert len(body["meta"]["notices"]) == 2
    assert (body["data"], body["stats"]) == ([], ZERO_TOTALS)


def test_availability_date_is_a_server_setting(db, database_url, tenant):
    with client_with(db, database_url, availability_date=dt.date(2024, 3, 2)) as client:
        ingest_ok(client, tenant.write, [event("d1", time="2024-03-01T12:00:00Z", image="i1"),
                                         event("d2", time="2024-03-02T12:00:00Z", image="i2")])
        body = stats_ok(client, tenant.read)
        assert body["meta"]["notices"][0] == availability_notice(dt.date(2024, 3, 2))
        assert "moved to 2024-03-02" in body["meta"]["notices"][1]
        assert body["stats"]["numBoxesAdded"] == 1


def test_answer_has_exactly_the_documented_keys(client, tenant):
    ingest_ok(client, tenant.write, [event("c1"), event("a1", "image.approved"),
                                     event("r1", "image.rejected", image="img2"),
                                     event("r2", "image.rejected", image="img3")])
    body = stats_ok(client, tenant.read)
    assert set(body) == {"data", "labelers", "meta", "stats"}
    assert body["meta"] == {"notices": [DEFAULT_NOTICE]}
    assert set(body["stats"]) == TOTAL_KEYS
    [row] = body["data"]
    assert set(row) == ROW_KEYS
    assert (row["projectId"], row["projectName"], row["projectType"], row["labelerId"]) \
        == ("p", "p", "object-detection", "alice")
    assert isinstance(row["workspaceId"], str) and row["workspaceId"]
    assert all(type(row[k]) is int for k in ROW_KEYS - {"projectId", "projectName", "projectType",
                                                        "labelerId", "workspaceId", "approvalRate"})
    assert (row["approved"], row["rejected"], row["approvalRate"]) == (1, 2, 33.33)
    assert body["stats"]["approvalRate"] == 33.33
    assert body["labelers"] == [{"id": "alice", "displayName": "alice", "email": None}]


def test_rows_are_ordered_by_project_then_labeler_and_labelers_by_id(client, tenant):
    ingest_pairs(client, tenant)
    body = stats_ok(client, tenant.read)
    assert pairs_of(body) == sorted(PAIRS)
    assert sorted(PAIRS) == [("p.1", "bob"), ("p10", "Zed"), ("p10", "alice"), ("p2", "Alice"),
                             ("p2", "bob")]
    assert [labeler["id"] for labeler in body["labelers"]] == ["Alice", "Zed", "alice", "bob"]


def test_project_and_user_filters_narrow_rows_labelers_and_totals(client, tenant):
    ingest_pairs(client, tenant)
    body = stats_ok(client, tenant.read, project="p10")
    assert pairs_of(body) == [("p10", "Zed"), ("p10", "alice")]
    assert [labeler["id"] for labeler in body["labelers"]] == ["Zed", "alice"]
    assert (body["stats"]["numBoxesAdded"], body["stats"]["numImagesLabeled"]) == (2, 4)
    body = stats_ok(client, tenant.read, userId="bob")
    assert pairs_of(body) == [("p.1", "bob"), ("p2", "bob")]
    assert body["stats"]["numImagesMarkedNull"] == 2
    body = stats_ok(client, tenant.read, project="p2", userId="Alice")
    assert pairs_of(body) == [("p2", "Alice")]
    assert body["labelers"] == [{"id": "Alice", "displayName": "Alice", "email": None}]
    assert stats_ok(client, tenant.read, project="p.1", userId="alice")["data"] == []


def test_dates_are_local_to_the_workspace_timezone(client, db, tenant):
    nyc = make_tenant(db, "nyc", timezone="America/New_York")
    events = [event("c1", time="2024-03-01T02:30:00Z"),
              event("a1", "image.approved", time="2024-03-01T02:30:00Z")]
    ingest_ok(client, nyc.write, events, workspace="nyc")
    ingest_ok(client, tenant.write, events)
    feb29, mar1 = day("2024-02-29"), day("2024-03-01")
    local = stats_ok(client, nyc.read, workspace="nyc", **feb29)
    assert (local["stats"]["numBoxesAdded"], local["data"][0]["approved"]) == (1, 1)
    assert stats_ok(client, nyc.read, workspace="nyc", **mar1)["data"] == []
    assert stats_ok(client, tenant.read, **feb29)["data"] == []
    utc = stats_ok(client, tenant.read, **mar1)
    assert (utc["stats"]["numBoxesAdded"], utc["data"][0]["approved"]) == (1, 1)
