"""Hypothesis strategies for hostile-but-valid SPEC §3 event streams.

Every generated event is valid per §3, but the streams are built to hit the
places a rollup/SQL engine tends to get wrong: tiny id pools so sessions,
images and annotations collide; instants clustered at local midnight and at DST
transitions of the workspace zone; one instant written with several offsets and
precisions; explicit session ids (one that looks like a date) mixed with
implicit day sessions; duplicate ids (exact, re-worded and conflicting re-sends);
shuffled arrival order; mixed-case and punctuation ids that sort differently
under a locale collation than by code point.

Public API:
    timezones()                                   -> str
    event_streams(timezone=None, *, min_events=0, max_events=40, max_reviews=12)
                                                  -> list[dict]
    date_ranges(events=(), timezone="UTC")        -> (start: date, end: date)
    stats_queries()                               -> dict(timezone, events, start,
                                                     end, project, user_id)
"""

from __future__ import annotations

import datetime
import functools

from hypothesis import strategies as st
from zoneinfo import ZoneInfo

UTC = datetime.timezone.utc

TIMEZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham")

# '-' < '.' < '0' < '_' < 'a' by code point; ICU/locale collations disagree.
PROJECTS = ("p", "q.v2", "p-a", "p.a", "p_a", "0p")
LABELERS = ("alice", "Bob", "bob", "10", "9", "zoë 👩‍🔬", "ł" * 256)
IMAGES = ("img1", "img2", "IMG1", "img 3/ü", "1")
ANNOTATIONS = ("a1", "a2", "a3", "A1")
# "2024-03-31" must never merge with the implicit session of that local date.
SESSIONS = ("s1", "s2", "S1", "2024-03-31")
REVIEWERS = ("rev", "alice", "Bob")
CLASSES = ("car", "person", "🚲")

# Days whose local midnights are interesting in at least one zone: leap day,
# the DST days named in the brief, Chatham's odd 45-minute-offset switches.
INTERESTING_DAYS = tuple(datetime.date.fromisoformat(d) for d in (
    "2024-02-29", "2024-03-01", "2024-03-10", "2024-03-31", "2024-04-07",
    "2024-09-29", "2024-10-27", "2024-11-03",
))

# Offsets used to re-write the same instant; "local" = the zone's own offset.
WRITTEN_OFFSETS = ("local", "Z", "+00:00", "-05:00", "+05:30", "+13:45", "-09:30")

LABELING_TYPES = ("annotation.created", "annotation.updated", "annotation.deleted",
                  "image.marked_null", "image.model_assisted")
REVIEW_TYPES = ("image.approved", "image.rejected")
# Weighted so boxes dominate, as in real streams.
_LABELING_WEIGHTED = ("annotation.created",) * 3 + ("annotation.deleted", "annotation.updated") * 2 + (
    "image.marked_null", "image.model_assisted")

_ID_POOL = ("e1", "E1", "e1 ", "é1", "01", "1", "ev/1?x=ü", "é" * 128, "x" * 128)
_ABSENT = object()


def _dst_transitions(zone: ZoneInfo) -> list[datetime.datetime]:
    """UTC instants in 2024 where the zone's offset changes (all on the hour)."""
    found = []
    t = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    previous = t.astimezone(zone).utcoffset()
    while t.year == 2024:
        t += datetime.timedelta(hours=1)
        offset = t.astimezone(zone).utcoffset()
        if offset != previous:
            found.append(t)
            previous = offset
    return found


@functools.lru_cache(maxsize=None)
def anchors(timezone: str) -> tuple[datetime.datetime, ...]:
    """Aware UTC instants that events cluster around for this workspace zone."""
    zone = ZoneInfo(timezone)
    transitions = _dst_transitions(zone)
    days = set(INTERESTING_DAYS)
    for t in transitions:
        days.add(t.astimezone(zone).date())
    points = set(transitions)
    for day in days:
        for delta in (-1, 0, 1):
            d = day + datetime.timedelta(days=delta)
            midnight = datetime.datetime(d.year, d.month, d.day, tzinfo=zone)
            points.add(midnight.astimezone(UTC))
    return tuple(sorted(points))


def timezones() -> st.SearchStrategy[str]:
    return st.sampled_from(TIMEZONES)


_jitter_seconds = st.one_of(
    st.sampled_from((0, -1, 1, -60, 60, -1800, 1800, -3600, 3600)),
    st.integers(-2 * 3600, 2 * 3600),          # around the anchor
    st.integers(-3 * 86400, 3 * 86400),        # spread over a few days
)


@st.composite
def _instants(draw, anchor_pool):
    """(instant, fraction digits) — digits chosen so the text is exact."""
    anchor = draw(st.sampled_from(anchor_pool))
    digits = draw(st.sampled_from((0, 0, 1, 3, 6)))
    if digits == 0:
        micro = 0
    else:
        unit = 10 ** (6 - digits)
        k = draw(st.one_of(st.sampled_from((0, 10 ** digits - 1)),
                           st.integers(0, 10 ** digits - 1)))
        micro = k * unit
    seconds = draw(_jitter_seconds)
    instant = anchor + datetime.timedelta(seconds=seconds, microseconds=micro)
    if micro and draw(st.booleans()):
        instant -= datetime.timedelta(seconds=1)  # e.g. 23:59:59.999999 local
    return instant, digits


def format_time(instant: datetime.datetime, written_offset: str, digits: int,
                timezone: str) -> str:
    """RFC 3339 text for `instant`, in the given offset, with `digits` fraction digits."""
    if written_offset == "local":
        shown = instant.astimezone(ZoneInfo(timezone))
    elif written_offset == "Z":
        shown = instant.astimezone(UTC)
    else:
        sign = -1 if written_offset[0] == "-" else 1
        hours, minutes = int(written_offset[1:3]), int(written_offset[4:6])
        offset = datetime.timedelta(hours=hours, minutes=minutes) * sign
        shown = instant.astimezone(datetime.timezone(offset))
    text = shown.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{shown.microsecond:06d}"[:digits]
    if written_offset == "Z":
        return text + "Z"
    total = int(shown.utcoffset().total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    return f"{text}{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"


@st.composite
def _time_text(draw, instant, digits, timezone):
    return format_time(instant, draw(st.sampled_from(WRITTEN_OFFSETS)), digits, timezone)


@st.composite
def _event(draw, ctx, kinds):
    """One event without `id`. ctx pins pools and the annotation→image map."""
    kind = draw(st.sampled_from(kinds))
    project = draw(st.sampled_from(ctx["projects"]))
    instant, digits = draw(_instants(ctx["anchors"]))
    event = {
        "type": kind,
        "time": draw(_time_text(instant, digits, ctx["timezone"])),
        "project": project,
        "labeler": draw(st.sampled_from(ctx["labelers"])),
    }
    if kind.startswith("annotation."):
        annotation = draw(st.sampled_from(ANNOTATIONS))
        # §3: annotation ids are unique within the project, so each one stays on one image.
        key = (project, annotation)
        if key not in ctx["annotation_image"]:
            ctx["annotation_image"][key] = draw(st.sampled_from(ctx["images"]))
        event["image"] = ctx["annotation_image"][key]
        event["annotation"] = annotation
        cls = draw(st.sampled_from((_ABSENT, *CLASSES)))
        if cls is not _ABSENT:
            event["class"] = cls
    else:
        event["image"] = draw(st.sampled_from(ctx["images"]))
    # Explicit session on some events — also on reviews, where §4 says to ignore it.
    session = draw(st.sampled_from((None, None, None, *SESSIONS)))
    if session is not None:
        event["session"] = session
    if kind == "annotation.created":
        assisted = draw(st.sampled_from((_ABSENT, True, False)))
        if assisted is not _ABSENT:
            event["modelAssisted"] = assisted
    if kind in REVIEW_TYPES:
        reviewer = draw(st.sampled_from((*REVIEWERS, _ABSENT)))
        if reviewer is not _ABSENT:
            event["reviewer"] = reviewer
    if draw(st.integers(0, 9)) == 0:
        event["note"] = {"unknown": ["fields", "are", "ignored"]}  # §3
    # Keep the instant for re-wording duplicates; stripped before returning.
    event["_instant"] = (instant, digits)
    return event


_ids = st.one_of(
    st.sampled_from(_ID_POOL),
    st.integers(2, 10 ** 9).map(lambda n: f"e{n}"),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=128),
)


@st.composite
def event_streams(draw, timezone: str | None = None, *, min_events: int = 0,
                  max_events: int = 40, max_reviews: int = 12):
    """A shuffled list of valid §3 events, including duplicate ids.

    `timezone` is the workspace zone the times cluster around (drawn if None).
    Review events are capped (default 12) so that no (project, labeler) pair
    reaches the 32 reviews needed for an exact x.xx5 approvalRate tie, where
    Python's round (half-even) and SQL ROUND (half-up) legitimately differ.
    """
    if timezone is None:
        timezone = draw(timezones())
    ctx = {
        "timezone": timezone,
        "anchors": draw(st.lists(st.sampled_from(anchors(timezone)), min_size=1,
                                 max_size=3, unique=True)),
        "projects": draw(st.lists(st.sampled_from(PROJECTS), min_size=1, max_size=3, unique=True)),
        "labelers": draw(st.lists(st.sampled_from(LABELERS), min_size=1, max_size=3, unique=True)),
        "images": draw(st.lists(st.sampled_from(IMAGES), min_size=1, max_size=3, unique=True)),
        "annotation_image": {},
    }
    labeling = draw(st.lists(_event(ctx, _LABELING_WEIGHTED), min_size=min_events,
                             max_size=max_events))
    reviews = draw(st.lists(_event(ctx, REVIEW_TYPES), max_size=max_reviews))
    originals = labeling + reviews
    ids = draw(st.lists(_ids, min_size=len(originals), max_size=len(originals), unique=True))
    for event, event_id in zip(originals, ids):
        event["id"] = event_id

    duplicates = []
    if originals:
        for _ in range(draw(st.integers(0, min(6, len(originals))))):
            source = draw(st.sampled_from(originals))
            how = draw(st.sampled_from(("exact", "reworded", "conflicting")))
            if how == "exact":
                copy = dict(source)
            elif how == "reworded":  # same instant, different text
                copy = dict(source)
                instant, digits = source["_instant"]
                copy["time"] = draw(_time_text(instant, digits, timezone))
            else:  # same id, different content: whichever arrives first wins
                kinds = REVIEW_TYPES if draw(st.booleans()) else _LABELING_WEIGHTED
                copy = draw(_event(ctx, kinds))
                copy["id"] = source["id"]
            duplicates.append(copy)

    stream = draw(st.permutations(originals + duplicates))
    return [{k: v for k, v in event.items() if k != "_instant"} for event in stream]


def _local_date(text: str, timezone: str) -> datetime.date:
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(text).astimezone(ZoneInfo(timezone)).date()


@st.composite
def date_ranges(draw, events=(), timezone: str = "UTC"):
    """(start, end) with start <= end, landing on, next to, or around the events' dates."""
    dates = sorted({_local_date(e["time"], timezone) for e in events})
    if not dates:
        dates = [datetime.date(2024, 3, 31)]
    one_day = datetime.timedelta(days=1)
    candidates = sorted({d + k * one_day for d in dates for k in (-1, 0, 1)})
    if draw(st.integers(0, 4)) == 0:
        return candidates[0], candidates[-1]  # everything
    # Mostly start on a real event date so ranges usually catch something.
    start = draw(st.sampled_from(dates) if draw(st.integers(0, 2)) else st.sampled_from(candidates))
    length = draw(st.sampled_from((0, 0, 1, 2, 7)))
    return start, start + length * one_day


@st.composite
def stats_queries(draw, max_events: int = 40):
    """A full query scenario: zone, events, range and optional filters.

    The project filter only names a project that some first-write event
    created, so an engine answering 404 for unknown projects (§6) stays comparable.
    """
    timezone = draw(timezones())
    events = draw(event_streams(timezone, max_events=max_events))
    start, end = draw(date_ranges(events, timezone))
    seen, known_projects, known_labelers = set(), [], []
    for event in events:
        if event["id"] not in seen:
            seen.add(event["id"])
            if event["project"] not in known_projects:
                known_projects.append(event["project"])
            if event["labeler"] not in known_labelers:
                known_labelers.append(event["labeler"])
    project = draw(st.sampled_from((None, None, *known_projects)))
    # A labeler never seen is a valid filter too (§6: 200 with empty data).
    user_id = draw(st.sampled_from((None, None, *known_labelers, "nobody")))
    return {"timezone": timezone, "events": events, "start": start, "end": end,
            "project": project, "user_id": user_id}
