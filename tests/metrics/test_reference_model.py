"""The reference model is only worth trusting if it is right on numbers a human
worked out from the SPEC, so each §5 row gets a tiny hand-computed case here,
plus §8 verbatim. The property tests at the end keep the strategies honest:
they must stay valid per §3 and actually produce the hostile cases they promise.
"""

from __future__ import annotations

import datetime
import random
import re
import unicodedata
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

from support.event_strategies import event_streams, stats_queries
from support.reference_model import dedupe, local_date, reference_stats

D = datetime.date.fromisoformat
_counter = iter(range(10**9))


def ev(type_, time, image, annotation=None, *, project="p", labeler="A", id=None, **extra):
    event = {"id": id or f"e{next(_counter)}", "type": type_, "time": time,
             "project": project, "image": image, "labeler": labeler}
    if annotation is not None:
        event["annotation"] = annotation
    event.update(extra)
    return event


def stats(events, start, end, tz="UTC", **filters):
    return reference_stats(events, timezone=tz, start=D(start), end=D(end), **filters)


def only_row(result):
    assert len(result["data"]) == 1, result["data"]
    return result["data"][0]


# ---------------------------------------------------------------- §8 verbatim

# §8 writes the project as `P`, which the §3 slug pattern forbids; `p` keeps it valid.
SPEC_8 = [
    ev("annotation.created", "2024-03-01T10:00:00Z", "img1", "a1"),
    ev("annotation.created", "2024-03-01T10:01:00Z", "img1", "a2"),
    ev("annotation.deleted", "2024-03-01T10:02:00Z", "img1", "a2"),
    ev("annotation.updated", "2024-03-01T10:03:00Z", "img1", "a1"),
    ev("image.marked_null", "2024-03-01T10:04:00Z", "img2"),
    ev("image.model_assisted", "2024-03-01T10:05:00Z", "img3"),
    ev("annotation.deleted", "2024-03-02T10:00:00Z", "img1", "a1"),
    ev("annotation.created", "2024-03-02T10:01:00Z", "img1", "a3", modelAssisted=True),
    ev("image.approved", "2024-03-02T12:00:00Z", "img1"),
    ev("image.rejected", "2024-03-03T12:00:00Z", "img2"),
]


def test_spec_8_worked_example():
    result = stats(SPEC_8, "2024-03-01", "2024-03-02")
    assert result["data"] == [{
        "projectId": "p", "labelerId": "A", "boxesAdded": 3, "boxesRemoved": 2,
        "boxesUpdated": 1, "boxesDrawn": 1, "netBoxesAdded": 2, "netBoxesUpdated": 1,
        "imagesLabeled": 3, "markedNull": 1, "modelAssisted": 2, "approved": 1,
        "rejected": 0, "approvalRate": 100.0,
    }]
    assert result["stats"] == {
        "numImagesLabeled": 2, "numImagesMarkedNull": 1, "totalImagesUsingModelAssist": 2,
        "numBoxesAdded": 3, "numBoxesRemoved": 2, "numBoxesUpdated": 1, "numBoxesDrawn": 1,
        "netBoxesAdded": 2, "netBoxesUpdated": 1, "approvalRate": 100.0,
    }


def test_spec_8_arrival_order_is_irrelevant():
    """Ingestion order is not time order; the numbers must not depend on it."""
    shuffled = SPEC_8[:]
    random.Random(8).shuffle(shuffled)
    assert stats(shuffled, "2024-03-01", "2024-03-02") == stats(SPEC_8, "2024-03-01", "2024-03-02")


def test_spec_8_rejection_day_alone():
    """A review-only day still yields a row, with zero labeling work and rate 0."""
    row = only_row(stats(SPEC_8, "2024-03-03", "2024-03-03"))
    assert (row["rejected"], row["approved"], row["approvalRate"]) == (1, 0, 0.0)
    assert row["boxesAdded"] == row["imagesLabeled"] == row["netBoxesAdded"] == 0


# ---------------------------------------------------------------- boxes

def test_net_boxes_create_and_delete_in_one_session_cancel():
    result = stats([ev("annotation.created", "2024-03-01T09:00:00Z", "i", "a"),
                    ev("annotation.deleted", "2024-03-01T09:05:00Z", "i", "a")],
                   "2024-03-01", "2024-03-01")
    row = only_row(result)
    assert (row["boxesAdded"], row["boxesRemoved"], row["boxesDrawn"], row["netBoxesAdded"]) == (1, 1, 0, 0)


def test_net_boxes_delete_in_a_later_session_does_not_cancel():
    """The per-session rule is not the final box count: a1 survives its own day."""
    events = [ev("annotation.created", "2024-03-01T09:00:00Z", "i", "a"),
              ev("annotation.deleted", "2024-03-02T09:00:00Z", "i", "a")]
    row = only_row(stats(events, "2024-03-01", "2024-03-02"))
    assert (row["boxesDrawn"], row["netBoxesAdded"]) == (0, 1)
    assert only_row(stats(events, "2024-03-02", "2024-03-02"))["netBoxesAdded"] == 0


def test_net_boxes_ignores_order_inside_a_session():
    """'no delete in the same session' is about membership, not which came first."""
    events = [ev("annotation.deleted", "2024-03-01T08:00:00Z", "i", "a"),
              ev("annotation.created", "2024-03-01T09:00:00Z", "i", "a"),
              ev("annotation.created", "2024-03-01T09:30:00Z", "i", "b"),
              ev("annotation.created", "2024-03-01T09:31:00Z", "i", "b")]
    row = only_row(stats(events, "2024-03-01", "2024-03-01"))
    assert (row["boxesAdded"], row["netBoxesAdded"], row["boxesDrawn"]) == (3, 1, 2)


def test_explicit_and_implicit_sessions_are_distinct_even_with_a_date_like_id():
    events = [ev("annotation.created", "2024-03-01T09:00:00Z", "i", "a", session="2024-03-01"),
              ev("annotation.deleted", "2024-03-01T09:05:00Z", "i", "a")]
    row = only_row(stats(events, "2024-03-01", "2024-03-01"))
    assert (row["netBoxesAdded"], row["imagesLabeled"]) == (1, 2)


def test_updates_count_events_not_boxes():
    events = [ev("annotation.updated", f"2024-03-01T09:0{k}:00Z", "i", "a") for k in range(3)]
    result = stats(events, "2024-03-01", "2024-03-01")
    row = only_row(result)
    assert (row["boxesUpdated"], row["netBoxesUpdated"], row["imagesLabeled"]) == (3, 3, 1)
    assert (result["stats"]["numBoxesUpdated"], result["stats"]["netBoxesUpdated"]) == (3, 3)


# ---------------------------------------------------------------- images

def test_images_labeled_per_session_vs_unique_total():
    """Row sums count an image once per session; stats counts (project, image) once."""
    events = [ev("annotation.created", f"2024-03-0{day}T10:00:00Z", "img1", f"a{day}{who}", labeler=who)
              for day in (1, 2) for who in ("A", "B")]
    events.append(ev("image.marked_null", "2024-03-01T11:00:00Z", "img1", project="q", labeler="A"))
    result = stats(events, "2024-03-01", "2024-03-02")
    assert [(r["projectId"], r["labelerId"], r["imagesLabeled"]) for r in result["data"]] == [
        ("p", "A", 2), ("p", "B", 2), ("q", "A", 1)]
    assert result["stats"]["numImagesLabeled"] == 2  # (p, img1) and (q, img1)


def test_model_assist_alone_is_not_labeling():
    result = stats([ev("image.model_assisted", "2024-03-01T10:00:00Z", "i")], "2024-03-01", "2024-03-01")
    row = only_row(result)
    assert (row["imagesLabeled"], row["modelAssisted"]) == (0, 1)
    assert (result["stats"]["numImagesLabeled"], result["stats"]["totalImagesUsingModelAssist"]) == (0, 1)


def test_marked_null_distinct_per_session_and_unique_in_stats():
    events = [ev("image.marked_null", "2024-03-01T10:00:00Z", "i"),
              ev("image.marked_null", "2024-03-01T10:01:00Z", "i"),
              ev("image.marked_null", "2024-03-02T10:00:00Z", "i")]
    result = stats(events, "2024-03-01", "2024-03-02")
    assert (only_row(result)["markedNull"], only_row(result)["imagesLabeled"]) == (2, 2)
    assert result["stats"]["numImagesMarkedNull"] == 1


def test_model_assisted_both_routes_distinct_images():
    events = [ev("image.model_assisted", "2024-03-01T10:00:00Z", "i1"),
              ev("annotation.created", "2024-03-01T10:01:00Z", "i1", "a1", modelAssisted=True),
              ev("annotation.created", "2024-03-01T10:02:00Z", "i2", "a2", modelAssisted=True),
              ev("annotation.created", "2024-03-01T10:03:00Z", "i3", "a3", modelAssisted=False),
              ev("annotation.created", "2024-03-01T10:04:00Z", "i4", "a4"),
              ev("annotation.created", "2024-03-02T10:00:00Z", "i1", "a5", modelAssisted=True)]
    result = stats(events, "2024-03-01", "2024-03-02")
    assert only_row(result)["modelAssisted"] == 3  # i1, i2 on day 1; i1 on day 2
    assert result["stats"]["totalImagesUsingModelAssist"] == 2


# ---------------------------------------------------------------- reviews

def test_approval_rate_null_without_reviews():
    result = stats([ev("annotation.created", "2024-03-01T10:00:00Z", "i", "a")], "2024-03-01", "2024-03-01")
    assert only_row(result)["approvalRate"] is None and result["stats"]["approvalRate"] is None


@pytest.mark.parametrize("approved, rejected, rate", [(2, 1, 66.67), (1, 2, 33.33), (1, 6, 14.29), (0, 1, 0.0)])
def test_approval_rate_rounding(approved, rejected, rate):
    events = [ev("image.approved", "2024-03-01T10:00:00Z", "i") for _ in range(approved)]
    events += [ev("image.rejected", "2024-03-01T10:00:00Z", "i") for _ in range(rejected)]
    result = stats(events, "2024-03-01", "2024-03-01")
    assert only_row(result)["approvalRate"] == rate == result["stats"]["approvalRate"]


def test_stats_approval_rate_pools_events_not_rates():
    """(1/1, 0/2) pools to 1/3 = 33.33, not the mean of 100 and 0."""
    events = [ev("image.approved", "2024-03-01T10:00:00Z", "i", labeler="A"),
              ev("image.rejected", "2024-03-01T10:00:00Z", "i", labeler="B"),
              ev("image.rejected", "2024-03-01T11:00:00Z", "i", labeler="B")]
    result = stats(events, "2024-03-01", "2024-03-01")
    assert [r["approvalRate"] for r in result["data"]] == [100.0, 0.0]
    assert result["stats"]["approvalRate"] == 33.33


def test_review_counts_on_its_own_date_even_with_a_session_field():
    events = [ev("annotation.created", "2024-03-01T23:00:00Z", "i", "a", session="s"),
              ev("annotation.created", "2024-03-02T01:00:00Z", "i", "b", session="s"),
              ev("image.approved", "2024-03-02T02:00:00Z", "i", session="s", reviewer="R")]
    day2 = only_row(stats(events, "2024-03-02", "2024-03-02"))
    assert (day2["approved"], day2["boxesAdded"]) == (1, 0)
    assert only_row(stats(events, "2024-03-01", "2024-03-01"))["approved"] == 0


# ---------------------------------------------------------------- dates and zones

def test_explicit_session_spanning_midnight_counts_on_first_events_date():
    events = [ev("annotation.created", "2024-03-02T00:10:00Z", "i2", "b", session="s"),
              ev("annotation.created", "2024-03-01T23:50:00Z", "i1", "a", session="s")]
    row = only_row(stats(events, "2024-03-01", "2024-03-01"))
    assert (row["boxesAdded"], row["imagesLabeled"]) == (2, 2)
    assert stats(events, "2024-03-02", "2024-03-02")["data"] == []


def test_local_date_not_utc_date_new_york():
    """23:30 EST on Mar 4 is already Mar 5 in UTC; the workspace date wins."""
    events = [ev("annotation.created", "2024-03-05T04:30:00Z", "i", "a")]
    assert only_row(stats(events, "2024-03-04", "2024-03-04", tz="America/New_York"))["boxesAdded"] == 1
    assert stats(events, "2024-03-05", "2024-03-05", tz="America/New_York")["data"] == []
    assert only_row(stats(events, "2024-03-05", "2024-03-05"))["boxesAdded"] == 1  # UTC workspace


def test_same_instant_written_with_different_offsets_is_one_local_date():
    texts = ["2024-03-05T04:30:00Z", "2024-03-05T04:30:00.000+00:00",
             "2024-03-04T23:30:00-05:00", "2024-03-05T10:00:00.0+05:30"]
    assert {local_date(t, "America/New_York") for t in texts} == {D("2024-03-04")}
    events = [ev("annotation.created", t, "i", f"a{k}") for k, t in enumerate(texts)]
    row = only_row(stats(events, "2024-03-04", "2024-03-04", tz="America/New_York"))
    assert (row["boxesAdded"], row["imagesLabeled"]) == (4, 1)  # one implicit session


def test_dst_fall_back_repeated_hour_stays_on_one_date():
    """Berlin 2024-10-27 has 02:30 twice (+02:00 then +01:00); both are that day."""
    events = [ev("annotation.created", "2024-10-27T02:30:00+02:00", "i", "a"),
              ev("annotation.created", "2024-10-27T02:30:00+01:00", "i", "b"),
              ev("annotation.created", "2024-10-27T22:30:00Z", "i", "c")]  # 23:30 CET
    row = only_row(stats(events, "2024-10-27", "2024-10-27", tz="Europe/Berlin"))
    assert row["boxesAdded"] == 3


def test_dst_spring_forward_and_odd_offset_zones():
    assert local_date("2024-03-30T23:00:00Z", "Europe/Berlin") == D("2024-03-31")
    assert local_date("2024-03-31T21:59:59.999999Z", "Europe/Berlin") == D("2024-03-31")
    assert local_date("2024-03-31T22:00:00Z", "Europe/Berlin") == D("2024-04-01")
    assert local_date("2024-03-01T10:15:00Z", "Pacific/Chatham") == D("2024-03-02")  # +13:45
    assert local_date("2024-03-01T18:29:59Z", "Asia/Kolkata") == D("2024-03-01")


def test_range_is_inclusive_and_whole_sessions_move_together():
    events = [ev("annotation.created", "2024-03-01T00:00:00Z", "i", "a"),
              ev("annotation.created", "2024-03-03T23:59:59.999999Z", "i", "b"),
              ev("annotation.created", "2024-03-04T00:00:00Z", "i", "c")]
    assert only_row(stats(events, "2024-03-01", "2024-03-03"))["boxesAdded"] == 2
    assert stats(events, "2024-02-28", "2024-02-29")["data"] == []


# ---------------------------------------------------------------- filters, ordering, ids

def test_project_and_user_filters():
    events = [ev("annotation.created", "2024-03-01T10:00:00Z", "i", "a", project="p", labeler="A"),
              ev("annotation.created", "2024-03-01T10:00:00Z", "i", "a", project="q", labeler="A"),
              ev("annotation.created", "2024-03-01T10:00:00Z", "i", "b", project="p", labeler="B"),
              ev("image.approved", "2024-03-01T11:00:00Z", "i", project="p", labeler="B", reviewer="A")]
    by_project = stats(events, "2024-03-01", "2024-03-01", project="p")
    assert [(r["projectId"], r["labelerId"]) for r in by_project["data"]] == [("p", "A"), ("p", "B")]
    assert by_project["stats"]["numImagesLabeled"] == 1
    by_user = stats(events, "2024-03-01", "2024-03-01", user_id="A")
    assert [(r["projectId"], r["approved"]) for r in by_user["data"]] == [("p", 0), ("q", 0)]
    assert by_user["stats"]["approvalRate"] is None  # A reviewed, but was not reviewed
    both = stats(events, "2024-03-01", "2024-03-01", project="p", user_id="B")
    assert (only_row(both)["approved"], only_row(both)["boxesAdded"]) == (1, 1)
    assert stats(events, "2024-03-01", "2024-03-01", user_id="nobody")["data"] == []


def test_rows_ordered_by_code_point():
    events = [ev("image.approved", "2024-03-01T10:00:00Z", "i", project=p, labeler=u)
              for p in ("p.a", "p-a") for u in ("alice", "Bob", "10", "9")]
    order = [(r["projectId"], r["labelerId"]) for r in stats(events, "2024-03-01", "2024-03-01")["data"]]
    assert order == [(p, u) for p in ("p-a", "p.a") for u in ("10", "9", "Bob", "alice")]


def test_duplicate_ids_first_write_wins():
    first = ev("annotation.created", "2024-03-01T10:00:00Z", "i", "a", id="x")
    conflicting = ev("image.marked_null", "2024-03-02T10:00:00Z", "j", id="x", labeler="B")
    events = [first, dict(first), conflicting, ev("annotation.created", "2024-03-01T10:00:00Z", "i", "a", id="X")]
    result = stats(events, "2024-03-01", "2024-03-02")
    assert (only_row(result)["labelerId"], only_row(result)["boxesAdded"]) == ("A", 2)  # x and X
    reversed_ = stats([conflicting, first], "2024-03-01", "2024-03-02")
    assert (only_row(reversed_)["labelerId"], only_row(reversed_)["markedNull"]) == ("B", 1)


# ---------------------------------------------------------------- properties

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)")
SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
TYPES = {"annotation.created", "annotation.updated", "annotation.deleted", "image.marked_null",
         "image.model_assisted", "image.approved", "image.rejected"}


def assert_valid_event(e):
    assert isinstance(e["id"], str) and 1 <= len(e["id"]) <= 128
    assert e["type"] in TYPES and SLUG.fullmatch(e["project"]) and RFC3339.fullmatch(e["time"])
    instant = datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
    assert e["time"].startswith("2024-") and instant.astimezone(datetime.timezone.utc).year == 2024
    for key in ("image", "labeler", "annotation", "session", "reviewer", "class"):
        if key in e:
            assert isinstance(e[key], str) and 1 <= len(e[key]) <= 256
            assert not any(unicodedata.category(c) == "Cc" for c in e[key])
    assert ("annotation" in e) == e["type"].startswith("annotation.")
    assert "modelAssisted" not in e or (e["type"] == "annotation.created" and type(e["modelAssisted"]) is bool)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(stats_queries())
def test_strategies_valid_and_reference_internally_consistent(q):
    for e in q["events"]:
        assert_valid_event(e)
    assert q["start"] <= q["end"]
    kw = {k: q[k] for k in ("timezone", "project", "user_id")}
    result = reference_stats(q["events"], start=q["start"], end=q["end"], **kw)
    s = result["stats"]
    for r in result["data"]:
        assert r["boxesDrawn"] == r["boxesAdded"] - r["boxesRemoved"]
        assert r["netBoxesAdded"] <= r["boxesAdded"] and r["markedNull"] <= r["imagesLabeled"]
    for total, field in [("numBoxesAdded", "boxesAdded"), ("netBoxesAdded", "netBoxesAdded")]:
        assert s[total] == sum(r[field] for r in result["data"])
    assert s["numImagesLabeled"] <= sum(r["imagesLabeled"] for r in result["data"])

    # Every session has exactly one date, so per-session sums split across a range.
    mid = q["start"] + (q["end"] - q["start"]) // 2
    left = reference_stats(q["events"], start=q["start"], end=mid, **kw)
    right = reference_stats(q["events"], start=mid + datetime.timedelta(days=1), end=q["end"], **kw)
    for key in ("numBoxesAdded", "numBoxesRemoved", "numBoxesUpdated", "netBoxesAdded"):
        assert s[key] == left["stats"][key] + right["stats"][key]

    # After dedup, arrival order and the offset an instant is written in are irrelevant.
    unique = dedupe(q["events"])
    random.Random(len(unique)).shuffle(unique)
    as_utc = [dict(e, time=datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
                   .astimezone(datetime.timezone.utc).isoformat()) for e in unique]
    assert reference_stats(as_utc, start=q["start"], end=q["end"], **kw) == result


def _instant(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _has(condition, strategy=None):
    """Hypothesis reaches a stream with this property, i.e. the strategy is as hostile as claimed."""
    quick = settings(max_examples=3000, database=None, phases=[Phase.generate])  # no shrinking
    find(event_streams() if strategy is None else strategy, condition, settings=quick)


def test_strategies_reach_hostile_cases():
    _has(lambda es: any(a["id"] == b["id"] and a != b for a in es for b in es))  # conflicting re-send
    _has(lambda es: any(a["time"] != b["time"] and _instant(a["time"]) == _instant(b["time"])
                        for a in es for b in es))  # one instant, two spellings
    _has(lambda es: any(a.get("session") and a.get("session") == b.get("session")
                        and (a["project"], a["labeler"]) == (b["project"], b["labeler"])
                        and local_date(a["time"], "UTC") != local_date(b["time"], "UTC")
                        for a in es for b in es))  # explicit session spanning midnight
    berlin = event_streams("Europe/Berlin")
    _has(lambda es: any(_instant(e["time"]).astimezone(ZoneInfo("Europe/Berlin")).time() == datetime.time(0)
                        for e in es), berlin)  # exactly local midnight
    _has(lambda es: any(local_date(e["time"], "Europe/Berlin") == datetime.date(2024, 10, 27)
                        for e in es), berlin)  # on a DST day
