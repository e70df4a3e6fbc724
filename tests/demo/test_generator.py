"""The demo generator feeds the demo command, the test suite and the benchmarks, so every
event it yields must be one the ingest API accepts (SPEC §3), and the stream must have
the shape the dashboard is meant to show off."""

from __future__ import annotations

import collections
import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from annotation_insights.demo.generator import (
    DemoSpec,
    demo_labelers,
    demo_projects,
    estimate_events,
    generate_events,
    spec_for_event_count,
)

TYPES = {"annotation.created", "annotation.updated", "annotation.deleted", "image.marked_null",
         "image.model_assisted", "image.approved", "image.rejected"}
REVIEWS = {"image.approved", "image.rejected"}
FIELDS = {"id", "type", "time", "project", "image", "labeler", "annotation", "session",
          "modelAssisted", "reviewer", "class"}
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Spans the end of European summer time (2026-10-25) so offsets change mid-stream.
BERLIN = DemoSpec(seed=3, days=14, end=dt.date(2026, 11, 1), timezone="Europe/Berlin")


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return list(generate_events(DemoSpec()))


@pytest.fixture(scope="module")
def berlin_events() -> list[dict]:
    return list(generate_events(BERLIN))


def spec_problems(ev: dict) -> list[str]:
    """SPEC §3, restated here so the generator is checked against the contract, not the ingest code."""
    problems = [f"unknown field {k}" for k in ev.keys() - FIELDS]
    problems += [f"missing {k}" for k in ("id", "type", "time", "project", "image", "labeler") if k not in ev]
    if problems:
        return problems
    if not (isinstance(ev["id"], str) and 1 <= len(ev["id"]) <= 128):
        problems.append("id")
    if ev["type"] not in TYPES:
        problems.append("type")
    if not (isinstance(ev["time"], str) and RFC3339.match(ev["time"])):
        problems.append("time")
    if not SLUG.match(ev["project"]):
        problems.append("project")
    for key in ("image", "labeler", "annotation", "session", "reviewer", "class"):
        value = ev.get(key)
        if value is not None and not (isinstance(value, str) and 1 <= len(value) <= 256
                                      and not CONTROL.search(value)):
            problems.append(key)
    is_annotation = ev["type"].startswith("annotation.")
    if is_annotation != ("annotation" in ev):
        problems.append("annotation must be present exactly on annotation.* events")
    if "class" in ev and not is_annotation:
        problems.append("class outside annotation.*")
    if "modelAssisted" in ev and (ev["type"] != "annotation.created" or ev["modelAssisted"] is not True):
        problems.append("modelAssisted")
    if (ev["type"] in REVIEWS) != ("reviewer" in ev):
        problems.append("reviewer must be present exactly on review events")
    if ev["type"] in REVIEWS and (ev.get("reviewer") == ev["labeler"] or "session" in ev):
        problems.append("review by the reviewed labeler, or in a session")
    return problems


def instant(ev: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(ev["time"])


@pytest.mark.parametrize("which", ["events", "berlin_events"])
def test_every_event_follows_the_spec(which, request):
    stream = request.getfixturevalue(which)
    bad = [(ev, p) for ev in stream if (p := spec_problems(ev))]
    assert not bad[:5]


@pytest.mark.parametrize("which, spec", [("events", DemoSpec()), ("berlin_events", BERLIN)])
def test_times_are_ordered_local_and_inside_the_window(which, spec, request):
    moments = [instant(ev) for ev in request.getfixturevalue(which)]
    assert all(a <= b for a, b in zip(moments, moments[1:]))
    zone, first = ZoneInfo(spec.timezone), spec.end - dt.timedelta(days=spec.days - 1)
    for moment in moments:
        local = moment.astimezone(zone)
        assert moment.utcoffset() == local.utcoffset()  # emitted with the zone's own offset
        assert first <= local.date() <= spec.end
        assert 6 <= local.hour <= 23
    if spec is BERLIN:
        assert {m.utcoffset() for m in moments} == {dt.timedelta(hours=1), dt.timedelta(hours=2)}


def test_deterministic_for_a_spec_and_different_across_seeds():
    spec = DemoSpec(days=5)
    assert list(generate_events(spec)) == list(generate_events(spec))
    assert list(generate_events(spec)) != list(generate_events(DemoSpec(days=5, seed=8)))


def test_ids_are_unique_and_short(events):
    ids = [ev["id"] for ev in events]
    assert len(set(ids)) == len(ids)
    assert max(map(len, ids)) <= 16


def test_references_are_consistent(events):
    slugs = {p["slug"] for p in demo_projects(DemoSpec())}
    labelers = {lab["id"] for lab in demo_labelers(DemoSpec())}
    created: dict[tuple[str, str], str] = {}  # (project, annotation) -> image
    deleted = set()
    for ev in events:
        assert ev["project"] in slugs and ev["labeler"] in labelers
        assert ev.get("reviewer", ev["labeler"]) in labelers
        assert re.fullmatch(r"img-\d{6,}", ev["image"])
        if "annotation" not in ev:
            continue
        key = (ev["project"], ev["annotation"])
        if ev["type"] == "annotation.created":
            assert key not in created, "annotation ids are unique within a project"
            created[key] = ev["image"]
        else:
            assert created.get(key) == ev["image"] and key not in deleted, "edit of a live box"
            if ev["type"] == "annotation.deleted":
                deleted.add(key)


def test_every_event_type_and_the_system_labeler_appear(events):
    counts = collections.Counter(ev["type"] for ev in events)
    assert set(counts) == TYPES
    created = counts["annotation.created"]
    assert 0.10 <= counts["annotation.updated"] / created <= 0.22
    assert 0.05 <= counts["annotation.deleted"] / created <= 0.12
    system = [ev for ev in events if ev["labeler"] == "autolabelservice"]
    assert system and all(ev["type"] == "annotation.created" and ev["modelAssisted"] for ev in system)
    assert demo_labelers(DemoSpec())[-1] == {"id": "autolabelservice", "displayName": "Auto Label",
                                            "email": None, "system": True}


def test_explicit_sessions_cover_a_small_share_of_labeler_days(events):
    days = collections.defaultdict(set)  # (labeler, local date) -> sessions (None = implicit)
    for ev in events:
        if ev["type"] not in REVIEWS and ev["labeler"] != "autolabelservice":
            days[ev["labeler"], ev["time"][:10]].add(ev.get("session"))
    explicit = [s for s in days.values() if s != {None}]
    assert explicit and all(None not in s for s in explicit), "a labeler-day is explicit throughout"
    assert 0.01 <= len(explicit) / len(days) <= 0.12


def test_images_behave_like_a_labeling_team(events):
    labeled, null, assisted, reviewed, days = set(), set(), set(), set(), collections.defaultdict(set)
    verdicts = collections.defaultdict(collections.Counter)
    for ev in events:
        image = (ev["project"], ev["image"])
        if ev["type"] in REVIEWS:
            reviewed.add(image)
            verdicts[ev["labeler"]][ev["type"]] += 1
            continue
        if ev["labeler"] != "autolabelservice":
            labeled.add(image)
            days[image].add(ev["time"][:10])
        if ev["type"] == "image.marked_null":
            null.add(image)
        if ev["type"] == "image.model_assisted" or ev.get("modelAssisted"):
            assisted.add(image)
    assert 0.02 <= len(null) / len(labeled) <= 0.07
    assert 0.12 <= len(assisted) / len(labeled) <= 0.35
    assert 0.5 <= len(reviewed) / len(labeled) <= 0.7
    assert 0.03 <= sum(len(d) > 1 for d in days.values()) / len(labeled) <= 0.2, "re-labeled later"
    nulls_with_boxes = {(ev["project"], ev["image"]) for ev in events
                        if ev["type"] == "annotation.created"} & null
    assert not nulls_with_boxes
    rates = {who: c["image.approved"] / sum(c.values()) for who, c in verdicts.items()}
    assert len(rates) == 8 and 0.85 <= sorted(rates.values())[len(rates) // 2] <= 0.95
    assert min(rates.values()) < 0.75, "one labeler is clearly worse"


def test_estimate_is_close_for_the_default_spec(events):
    assert abs(estimate_events(DemoSpec()) - len(events)) <= 0.15 * len(events)


@pytest.mark.parametrize("n", [20_000, 200_000])
def test_spec_for_event_count_hits_the_size(n):
    spec = spec_for_event_count(n)
    assert abs(sum(1 for _ in generate_events(spec)) - n) <= 0.15 * n


def test_spec_for_event_count_keeps_what_the_caller_fixed():
    spec = spec_for_event_count(10_000_000, projects=20, labelers=200, days=365)
    assert (spec.projects, spec.labelers, spec.days) == (20, 200, 365)
    assert abs(estimate_events(spec) - 10_000_000) <= 0.02 * 10_000_000


def test_reference_data_is_well_formed():
    spec = DemoSpec(projects=20, labelers=70)
    projects, labelers = demo_projects(spec), demo_labelers(spec)
    assert len({p["slug"] for p in projects}) == 20 and all(SLUG.match(p["slug"]) for p in projects)
    assert {p["type"] for p in projects} == {"object-detection", "instance-segmentation", "classification"}
    assert len({lab["id"] for lab in labelers}) == 71
    assert all(not lab["system"] and lab["email"].endswith("@example.com") for lab in labelers[:-1])


def test_spec_rejects_nonsense():
    with pytest.raises(ValueError):
        DemoSpec(timezone="Mars/Olympus")
    with pytest.raises(ValueError):
        DemoSpec(days=0)
