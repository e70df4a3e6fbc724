"""CVAT's analytics event export (CSV) → SPEC §3 events.

CVAT records one row per server action: `create|update|delete:shapes|tracks|tags` with
the number of objects in `count` and their ids in `payload` (`{"shapes": [{"id", ...}]}`),
and `update:job` rows for each changed job field (`obj_name` = `stage`, `state`,
`assignee`; `obj_val` = the new value, `payload.old_value` the old one).

| CVAT row | event |
|---|---|
| `create:shapes` / `create:tracks` / `create:tags` | one `annotation.created` per payload id (or `count` of them when the payload has no ids) |
| `update:…` / `delete:…` | `annotation.updated` / `annotation.deleted` likewise |
| `update:job` stage → `acceptance`, or state → `completed` while in `validation` | `image.approved` |
| `update:job` state → `rejected`, or stage `validation` → `annotation` | `image.rejected` |
| any other scope | skipped, counted in the summary |

Labeler = `user_id` (named by `user_name`/`user_email`); project = `cvat-<project_id>`
(`cvat-task-<task_id>` for a task outside projects); image = `task-<t>/frame-<f>` when the
payload names the frame (CVAT before 2.x), else `task-<t>/job-<j>`. Review events credit
the job's last annotator in the export (else its assignee while in `annotation`) and name
the CVAT user who changed the job as reviewer.

What the export cannot tell: which frame an object is on in newer CVAT (only ids are
logged), whether an object came from auto-annotation (shape `source` is not logged),
images marked null (CVAT has no such action), and reviews of jobs whose annotator never
appears in the export. Event ids are derived from the row, so re-importing is a no-op.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from annotation_insights.connectors.files import RowError
from annotation_insights.connectors.importer import Converted, Skip
from annotation_insights.events.schema import EventError, parse_time

ANNOTATION_TARGETS = {"shapes": "shape", "tracks": "track", "tags": "tag"}
ANNOTATION_ACTIONS = {"create": "annotation.created", "update": "annotation.updated",
                      "delete": "annotation.deleted"}
REVIEW_DEDUP_US = 5 * 1_000_000  # stage and state changed by one click land within this
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?$")


def parse_timestamp(value: str | None) -> str | None:
    """CVAT's timestamps (ClickHouse `YYYY-MM-DD hh:mm:ss.fff` in UTC, ISO 8601, or epoch
    seconds) as RFC 3339."""
    text = (value or "").strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        moment = dt.datetime.fromtimestamp(float(text), tz=dt.timezone.utc)
        return moment.isoformat().replace("+00:00", "Z")
    if _NAIVE.fullmatch(text):
        return text.replace(" ", "T") + "Z"
    text = text.replace(" ", "T", 1)
    if text.endswith(("+00", "-00")):
        text += ":00"
    return text


def _payload(raw: str | None) -> dict:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _int_text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    if text.endswith(".0"):
        text = text[:-2]
    return text or None


def _hash_id(*parts: Any) -> str:
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=16)
    return "cvat:" + digest.hexdigest()


@dataclass
class CvatConverter:
    """Converts rows in order; keeps what later rows need (who annotated each job)."""

    labelers: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)
    used_labelers: set[str] = field(default_factory=set)
    used_projects: set[str] = field(default_factory=set)
    _last_annotator: dict[str, str] = field(default_factory=dict)
    _assignee: dict[str, str] = field(default_factory=dict)
    _annotation_assignee: dict[str, str] = field(default_factory=dict)
    _stage: dict[str, str] = field(default_factory=dict)
    _last_review: dict[str, tuple[str, int]] = field(default_factory=dict)

    def __call__(self, number: int, row: Any) -> Converted:
        if isinstance(row, RowError):
            return row
        scope = (row.get("scope") or "").strip()
        user = _int_text(row.get("user_id"))
        if user and (row.get("user_name") or row.get("user_email")):
            self.labelers[user] = (row.get("user_name") or None, row.get("user_email") or None)
        action, _, target = scope.partition(":")
        if target in ANNOTATION_TARGETS and action in ANNOTATION_ACTIONS:
            return self._annotations(number, row, action, target, user)
        if scope == "update:job":
            return self._job_change(row, user)
        if scope == "create:project" and row.get("obj_id") and row.get("obj_name"):
            self.projects[f"cvat-{_int_text(row['obj_id'])}"] = row["obj_name"]
        return Skip(f"scope {scope or '(empty)'}")

    def _where(self, row: dict) -> tuple[str | None, str | None, str | None]:
        project_id, task_id = _int_text(row.get("project_id")), _int_text(row.get("task_id"))
        job_id = _int_text(row.get("job_id"))
        project = f"cvat-{project_id}" if project_id else (f"cvat-task-{task_id}" if task_id else None)
        return project, task_id, job_id

    def _annotations(self, number: int, row: dict, action: str, target: str,
                     user: str | None) -> Converted:
        project, task_id, job_id = self._where(row)
        time = parse_timestamp(row.get("timestamp"))
        if user is None:
            return RowError("user_id", "is empty: CVAT did not record who made this change")
        if project is None:
            return RowError("task_id", "is empty: the row names neither a project nor a task")
        if time is None:
            return RowError("timestamp", "is empty")
        if job_id:
            self._last_annotator[job_id] = user
        self.used_labelers.add(user)
        self.used_projects.add(project)
        kind = ANNOTATION_TARGETS[target]
        items = [i for i in _payload(row.get("payload")).get(target) or () if isinstance(i, dict)]
        common = {"type": ANNOTATION_ACTIONS[action], "time": time, "project": project,
                  "labeler": user}
        events = []
        if items:
            for item in items:
                frame = item.get("frame")
                if frame is None and isinstance(item.get("shapes"), list) and item["shapes"]:
                    frame = item["shapes"][0].get("frame") if isinstance(item["shapes"][0], dict) else None
                label = item.get("label_id")
                events.append({
                    **common, "id": _hash_id(row.get("scope"), item.get("id"), time, job_id),
                    "annotation": f"{kind}-{item.get('id')}",
                    "image": self._image(task_id, job_id, frame),
                    **({"class": f"label-{label}"} if label is not None else {})})
            return events
        try:
            count = int(float(row.get("count") or 0))
        except ValueError:
            return RowError("count", f"{row.get('count')!r} is not a number")
        if count <= 0:
            return RowError("payload", "names no objects and count is empty")
        for index in range(count):
            key = _hash_id(row.get("scope"), row.get("obj_name"), time, job_id, user, index)
            events.append({**common, "id": key, "annotation": f"{kind}-{key[5:21]}",
                           "image": self._image(task_id, job_id, None)})
        return events

    @staticmethod
    def _image(task_id: str | None, job_id: str | None, frame: Any) -> str:
        if frame is not None:
            return f"task-{task_id}/frame-{frame}"
        return f"task-{task_id}/job-{job_id}" if job_id else f"task-{task_id}"

    def _job_change(self, row: dict, reviewer: str | None) -> Converted:
        field_name = (row.get("obj_name") or "").strip()
        job_id = _int_text(row.get("job_id")) or _int_text(row.get("obj_id"))
        new = (row.get("obj_val") or "").strip().lower()
        old = str(_payload(row.get("payload")).get("old_value") or "").strip().lower()
        if job_id is None:
            return Skip("update:job without a job id")
        if field_name == "assignee":
            assignee = _int_text(row.get("obj_id"))
            if assignee:
                self._assignee[job_id] = assignee
                if self._stage.get(job_id, "annotation") == "annotation":
                    self._annotation_assignee[job_id] = assignee
            return Skip("update:job assignee")
        outcome = None
        if field_name == "stage":
            old = old or self._stage.get(job_id, "")
            self._stage[job_id] = new
            if new == "acceptance":
                outcome = "image.approved"
            elif new == "annotation" and old == "validation":
                outcome = "image.rejected"
        elif field_name == "state":
            if new == "rejected":
                outcome = "image.rejected"
            elif new == "completed" and self._stage.get(job_id) == "validation":
                outcome = "image.approved"
        if outcome is None:
            return Skip(f"update:job {field_name or '(field)'}")
        return self._review(row, job_id, outcome, reviewer)

    def _review(self, row: dict, job_id: str, outcome: str, reviewer: str | None) -> Converted:
        project, task_id, _ = self._where(row)
        time = parse_timestamp(row.get("timestamp"))
        labeler = self._last_annotator.get(job_id) or self._annotation_assignee.get(job_id)
        if labeler is None:
            return RowError("job_id", f"job {job_id} was reviewed but no annotator of it appears "
                                      "in this export, so the review cannot be credited")
        if project is None or time is None:
            return RowError("task_id" if project is None else "timestamp", "is empty")
        try:
            time_us = parse_time(time)
        except EventError as exc:
            return RowError("timestamp", exc.message)
        previous = self._last_review.get(job_id)
        if previous and previous[0] == outcome and abs(time_us - previous[1]) <= REVIEW_DEDUP_US:
            return Skip("update:job (same review, second field)")
        self._last_review[job_id] = (outcome, time_us)
        self.used_labelers.add(labeler)
        self.used_projects.add(project)
        event = {"id": _hash_id("review", job_id, outcome, time), "type": outcome, "time": time,
                 "project": project, "image": self._image(task_id, job_id, None),
                 "labeler": labeler}
        if reviewer:
            event["reviewer"] = reviewer
        return [event]
