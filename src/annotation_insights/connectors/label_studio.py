"""Label Studio annotations → SPEC §3 events, by diffing regions against the last version seen.

Label Studio sends an annotation's whole new `result` on every save and never the old
one, so what changed is found by comparing each region (the result items sharing one
`id`) with the version seen before:

| Label Studio | event |
|---|---|
| region id not seen before | `annotation.created`, `modelAssisted` when its `origin` is `prediction` / `prediction-changed` or the annotation has a `parent_prediction` |
| region id seen, content changed | `annotation.updated` |
| region id gone (or the whole annotation deleted) | `annotation.deleted` |
| a submitted, not skipped, empty `result` | `image.marked_null` |
| `was_cancelled` (a skip) | nothing: skipping is not labeling |

Labeler = `updated_by` (else `completed_by`); image = the task id; the event's annotation
id = `<Label Studio annotation id>/<region id>` (region ids repeat across annotations made
from one prediction). Event ids are derived from the annotation's version (`updated_at`),
and a version not newer than the one seen changes nothing, so a replayed delivery is a
no-op however often it arrives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from annotation_insights.events.schema import EventError, has_control_characters, parse_time

HANDLED_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED",
                   "ANNOTATIONS_DELETED")
MODEL_ORIGINS = frozenset(("prediction", "prediction-changed"))
_VOLATILE_KEYS = frozenset(("origin", "score", "readonly", "hidden"))
_SLUG_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def project_slug(ls_project_id: Any) -> str:
    """Our project slug for a Label Studio project id (stable even if its title changes)."""
    return "label-studio-" + _SLUG_UNSAFE.sub("-", str(ls_project_id).lower()).strip("-")


def project_type(label_config: str | None) -> str:
    """A Roboflow-style project type from the labeling config's control tags."""
    config = label_config if isinstance(label_config, str) else ""
    if re.search(r"<(PolygonLabels|BrushLabels|Polygon|Brush)\b", config):
        return "instance-segmentation"
    if re.search(r"<(RectangleLabels|Rectangle|KeyPointLabels)\b", config):
        return "object-detection"
    if re.search(r"<(Choices|Taxonomy)\b", config):
        return "classification"
    return "object-detection"


@dataclass(frozen=True)
class Region:
    digest: str
    model_origin: bool
    class_: str | None


@dataclass(frozen=True)
class Seen:
    """The last version of one Label Studio annotation that became events."""

    project: str
    annotation_id: str
    unique_id: str | None
    image: str
    labeler: str
    version_us: int
    regions: dict[str, tuple[str, str | None]]  # region id -> (digest, class)
    deleted: bool = False

    def regions_json(self) -> str:
        return orjson.dumps(self.regions, option=orjson.OPT_SORT_KEYS).decode()

    @staticmethod
    def regions_from_json(text: str) -> dict[str, tuple[str, str | None]]:
        return {rid: (value[0], value[1]) for rid, value in orjson.loads(text).items()}


@dataclass(frozen=True)
class Annotation:
    """One Label Studio annotation version, as a webhook or the API presents it."""

    id: str
    unique_id: str | None
    project: str
    image: str
    labeler: str | None
    created_us: int
    version_us: int
    cancelled: bool
    from_prediction: bool
    regions: dict[str, Region] = field(default_factory=dict)


class LabelStudioError(ValueError):
    """A delivery that cannot be read as Label Studio's webhook payload."""


def _ident(value: Any, what: str) -> str | None:
    """An id Label Studio sends (a number or a string), or None; anything else is refused
    here, before it can reach a dict key, a SQL parameter or a stored row."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or has_control_characters(str(value)):
        raise LabelStudioError(f"{what} must be a number or a string without control characters")
    return str(value)


def _user_id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return _ident(value, "a user id")


def _region_class(items: list[dict]) -> str | None:
    for item in items:
        value = item.get("value")
        if not isinstance(value, dict):
            continue
        for key, labels in value.items():
            if (key.endswith("labels") or key in ("choices", "taxonomy")) and isinstance(labels, list):
                first = labels[0] if labels else None
                while isinstance(first, list):  # taxonomy paths are lists of lists
                    first = first[-1] if first else None
                if isinstance(first, str) and first:
                    return first[:256]
    return None


def parse_regions(result: Any) -> dict[str, Region]:
    """Group result items by region id; relations (no region of their own) are left out."""
    grouped: dict[str, list[dict]] = {}
    for index, item in enumerate(result if isinstance(result, list) else []):
        if not isinstance(item, dict) or item.get("type") == "relation":
            continue
        rid = item.get("id")
        rid = str(rid) if rid not in (None, "") else f"{item.get('from_name')}#{index}"
        grouped.setdefault(rid, []).append(item)
    regions = {}
    for rid, items in grouped.items():
        content = [{k: v for k, v in item.items() if k not in _VOLATILE_KEYS} for item in items]
        digest = hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS),
                                 digest_size=8).hexdigest()
        regions[rid] = Region(digest, any(isinstance(i.get("origin"), str) and i["origin"] in MODEL_ORIGINS
                                          for i in items),
                              _region_class(items))
    return regions


def _time_us(value: Any, what: str) -> int:
    if not isinstance(value, str):
        raise LabelStudioError(f"annotation {what} is missing")
    text = value if re.search(r"(Z|z|[+-]\d{2}:\d{2})$", value) else value + "Z"
    try:
        return parse_time(text)
    except EventError:
        raise LabelStudioError(f"annotation {what} {value!r} is not a timestamp") from None


def parse_annotation(raw: Any, *, project: str, task: Any = None) -> Annotation:
    annotation_id = _ident(raw.get("id"), "an annotation id") if isinstance(raw, dict) else None
    if annotation_id is None:
        raise LabelStudioError("each annotation must be an object with an id")
    task_id = raw.get("task")
    if isinstance(task_id, dict):
        task_id = task_id.get("id")
    if task_id is None and isinstance(task, dict):
        task_id = task.get("id")
    task_id = _ident(task_id, f"the task of annotation {annotation_id}")
    if task_id is None:
        raise LabelStudioError(f"annotation {annotation_id} names no task")
    created = _time_us(raw.get("created_at") or raw.get("updated_at"), "created_at")
    version = _time_us(raw.get("updated_at") or raw.get("created_at"), "updated_at")
    return Annotation(
        id=annotation_id, unique_id=_ident(raw.get("unique_id"), "unique_id"), project=project,
        image=task_id,
        labeler=_user_id(raw.get("updated_by")) or _user_id(raw.get("completed_by")),
        created_us=created, version_us=version, cancelled=bool(raw.get("was_cancelled")),
        from_prediction=raw.get("parent_prediction") not in (None, "", 0),
        regions=parse_regions(raw.get("result")))


def _event_id(*parts: Any) -> str:
    natural = "ls:" + ":".join(str(p) for p in parts)
    if len(natural) <= 128:
        return natural
    return "ls:" + hashlib.blake2b(natural.encode(), digest_size=24).hexdigest()


def _iso(time_us: int) -> str:
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=time_us)
    return moment.isoformat().replace("+00:00", "Z")


def _event(type_: str, time_us: int, project: str, image: str, labeler: str,
           event_id: str, annotation: str | None = None, **extra: Any) -> dict:
    event = {"id": event_id, "type": type_, "time": _iso(time_us), "project": project,
             "image": image, "labeler": labeler}
    if annotation is not None:
        event["annotation"] = annotation
    event.update({k: v for k, v in extra.items() if v is not None})
    return event


def diff_annotation(ann: Annotation, seen: Seen | None, *, backfill: bool = False
                    ) -> tuple[list[dict], Seen | None]:
    """The events one annotation version adds to what was seen, and the new `Seen`.

    Returns `([], None)` when nothing is to change: a replay, an out-of-order older
    version, a skip, or an update to an annotation already deleted.
    """
    if seen is not None and ann.unique_id and seen.unique_id and ann.unique_id != seen.unique_id:
        seen = None  # the id was reused by a new annotation: the old one is history
    if seen is not None and (seen.deleted or ann.version_us <= seen.version_us):
        return [], None
    if ann.cancelled:
        return [], None
    labeler = ann.labeler or (seen.labeler if seen else None) or "label-studio-unknown"
    # A backfill sees only the final version; its regions were made when it was created.
    time_us = ann.created_us if backfill and seen is None else ann.version_us
    before = seen.regions if seen else {}
    events: list[dict] = []
    for rid, region in ann.regions.items():
        target = f"{ann.id}/{rid}"
        if rid not in before:
            events.append(_event(
                "annotation.created", time_us, ann.project, ann.image, labeler,
                _event_id(ann.project, ann.id, rid, "c", ann.version_us), target,
                modelAssisted=region.model_origin or ann.from_prediction, **{"class": region.class_}))
        elif before[rid][0] != region.digest:
            events.append(_event(
                "annotation.updated", time_us, ann.project, ann.image, labeler,
                _event_id(ann.project, ann.id, rid, "u", ann.version_us), target,
                **{"class": region.class_}))
    for rid, (_, class_) in before.items():
        if rid not in ann.regions:
            events.append(_event(
                "annotation.deleted", time_us, ann.project, ann.image, labeler,
                _event_id(ann.project, ann.id, rid, "d", ann.version_us), f"{ann.id}/{rid}",
                **{"class": class_}))
    if not ann.regions and (seen is None or seen.regions):
        events.append(_event("image.marked_null", time_us, ann.project, ann.image, labeler,
                             _event_id(ann.project, ann.id, "null", ann.version_us)))
    new_seen = Seen(ann.project, ann.id, ann.unique_id, ann.image, labeler, ann.version_us,
                    {rid: (r.digest, r.class_) for rid, r in ann.regions.items()})
    return events, new_seen


def delete_annotation(seen: Seen, now_us: int) -> tuple[list[dict], Seen]:
    """`ANNOTATIONS_DELETED` carries only ids: every region seen is deleted, by the last
    labeler seen (Label Studio does not say who deleted it), at the time it arrives."""
    events = [
        _event("annotation.deleted", now_us, seen.project, seen.image, seen.labeler,
               _event_id(seen.project, seen.annotation_id, rid, "d", "gone"),
               f"{seen.annotation_id}/{rid}", **{"class": class_})
        for rid, (_, class_) in seen.regions.items()]
    return events, Seen(seen.project, seen.annotation_id, seen.unique_id, seen.image,
                        seen.labeler, max(seen.version_us, now_us), {}, deleted=True)


@dataclass(frozen=True)
class Delivery:
    """A webhook body reduced to what the mapping needs."""

    action: str
    project: str | None
    project_title: str | None
    project_type: str
    annotations: list[Annotation]
    deleted_ids: list[str]


def _listed(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse_delivery(body: Any, *, project_override: str | None = None) -> Delivery:
    if not isinstance(body, dict) or not isinstance(body.get("action"), str):
        raise LabelStudioError('the body must be a Label Studio webhook: {"action": ..., ...}')
    action = body["action"]
    ls_project = body.get("project") if isinstance(body.get("project"), dict) else {}
    annotations_raw = _listed(body.get("annotation")) or _listed(body.get("annotations"))
    project_id = ls_project.get("id")
    if project_id is None:
        project_id = next((a.get("project") for a in annotations_raw
                           if isinstance(a, dict) and a.get("project") is not None), None)
    project_id = _ident(project_id, "the project id")
    project = project_override or (project_slug(project_id) if project_id is not None else None)
    title = ls_project.get("title")
    title = title if isinstance(title, str) and title and not has_control_characters(title) else None
    kind = project_type(ls_project.get("label_config"))
    if action not in HANDLED_ACTIONS:
        return Delivery(action, project, title, kind, [], [])
    if action == "ANNOTATIONS_DELETED":
        ids = [_ident(a["id"], "an annotation id") for a in annotations_raw
               if isinstance(a, dict) and a.get("id") not in (None, "")]
        return Delivery(action, project, title, kind, [], ids)
    if project is None:
        raise LabelStudioError("the delivery names no Label Studio project")
    tasks = _listed(body.get("task")) or _listed(body.get("tasks"))
    tasks_by_id = {str(t["id"]): t for t in tasks
                   if isinstance(t, dict) and isinstance(t.get("id"), (int, str))}
    parsed = []
    for index, raw in enumerate(annotations_raw):
        task = tasks_by_id.get(str(raw.get("task"))) if isinstance(raw, dict) else None
        if task is None and index < len(tasks):
            task = tasks[index]
        parsed.append(parse_annotation(raw, project=project, task=task))
    return Delivery(action, project, title, kind, parsed, [])

