"""SPEC §3 event validation.

Hand-written rather than a pydantic model because ingest runs it on every event of
batches of thousands, and because each problem must be reported as one
`{index, field, message}` entry a labeling-tool integrator can act on.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

EVENT_TYPES = (
    "annotation.created", "annotation.updated", "annotation.deleted",
    "image.marked_null", "image.model_assisted", "image.approved", "image.rejected",
)
ANNOTATION_TYPES = frozenset(EVENT_TYPES[:3])
REVIEW_TYPES = frozenset(("image.approved", "image.rejected"))

PROJECT_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII)  # RFC 3339 digits are ASCII; int() would otherwise accept e.g. fullwidth ones
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# The earliest moment whose local date exists in every timezone (Python's dates start at year 1).
_EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.timezone.utc)
EARLIEST_US = ((_EARLIEST - _EPOCH).days * 86_400) * 1_000_000


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    time_us: int  # microseconds since the Unix epoch, UTC
    project: str
    image: str
    labeler: str
    annotation: str | None
    session: str | None
    model_assisted: bool | None
    reviewer: str | None
    class_: str | None


class EventError(ValueError):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_time(value: Any) -> int:
    """RFC 3339 with a mandatory offset, to microseconds since the epoch."""
    if not isinstance(value, str):
        raise EventError("time", "must be an RFC 3339 timestamp string with an offset")
    m = _RFC3339.fullmatch(value)
    if not m:
        raise EventError("time", "must be an RFC 3339 timestamp with an offset, "
                                 "e.g. 2024-03-01T10:00:00Z or 2024-03-01T11:00:00+01:00")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, offset = m.group(7), m.group(8)
    micros = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        if offset in ("Z", "z"):
            tz = dt.timezone.utc
        else:
            sign = 1 if offset[0] == "+" else -1
            oh, om = int(offset[1:3]), int(offset[4:6])
            if oh > 23 or om > 59:
                raise ValueError("offset out of range")
            tz = dt.timezone(sign * dt.timedelta(hours=oh, minutes=om))
        moment = dt.datetime(year, month, day, hour, minute, second, micros, tzinfo=tz)
    except ValueError:
        raise EventError("time", f"{value!r} is not a real moment (impossible date, time or offset)") from None
    if moment < _EARLIEST:
        raise EventError("time", "must not be before 0001-01-02T00:00:00Z")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def _text(raw: dict, field: str, *, required: bool, max_len: int = 256) -> str | None:
    value = raw.get(field)
    if value is None:
        if required:
            raise EventError(field, "is required")
        return None
    if not isinstance(value, str):
        raise EventError(field, "must be a string")
    if not 1 <= len(value) <= max_len:
        raise EventError(field, f"must be 1 to {max_len} characters long")
    if has_control_characters(value):
        raise EventError(field, "must not contain control characters")
    return value


def validate_event(raw: Any, *, latest_time_us: int, future_hours: int = 24) -> Event:
    """One SPEC §3 event, or an `EventError` naming the first bad field."""
    if not isinstance(raw, dict):
        raise EventError(None, "each event must be a JSON object")
    event_id = raw.get("id")
    if event_id is None:
        raise EventError("id", "is required")
    if not isinstance(event_id, str):
        raise EventError("id", "must be a string")
    if not 1 <= len(event_id) <= 128:
        raise EventError("id", "must be 1 to 128 characters long")
    if has_control_characters(event_id):  # PostgreSQL cannot even store a NUL
        raise EventError("id", "must not contain control characters")
    event_type = raw.get("type")
    if event_type is None:
        raise EventError("type", "is required")
    if event_type not in EVENT_TYPES:
        raise EventError("type", "must be one of " + ", ".join(EVENT_TYPES))
    if "time" not in raw or raw["time"] is None:
        raise EventError("time", "is required")
    time_us = parse_time(raw["time"])
    if time_us > latest_time_us:
        raise EventError("time", f"is more than {future_hours} hours in the future")
    project = raw.get("project")
    if project is None:
        raise EventError("project", "is required")
    if not isinstance(project, str) or not PROJECT_SLUG.fullmatch(project):
        raise EventError("project", "must be a project slug matching ^[a-z0-9][a-z0-9._-]{0,99}$")
    image = _text(raw, "image", required=True)
    labeler = _text(raw, "labeler", required=True)
    annotation = _text(raw, "annotation", required=event_type in ANNOTATION_TYPES)
    session = _text(raw, "session", required=False)
    reviewer = _text(raw, "reviewer", required=False)
    class_ = _text(raw, "class", required=False)
    model_assisted = raw.get("modelAssisted")
    if model_assisted is not None and not isinstance(model_assisted, bool):
        raise EventError("modelAssisted", "must be true or false")
    return Event(event_id, event_type, time_us, project, image, labeler,  # type: ignore[arg-type]
                 annotation, session, model_assisted, reviewer, class_)
