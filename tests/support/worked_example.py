"""SPEC §8's worked example: the events and every number the SPEC states for them.

Workspace timezone UTC, project `P` (slug `p` by default: §3 slugs are lowercase),
labeler `A`, no explicit sessions.
"""

from __future__ import annotations

WORKED = [
    ("2024-03-01T10:00:00Z", "annotation.created", "img1", "a1", {}),
    ("2024-03-01T10:01:00Z", "annotation.created", "img1", "a2", {}),
    ("2024-03-01T10:02:00Z", "annotation.deleted", "img1", "a2", {}),
    ("2024-03-01T10:03:00Z", "annotation.updated", "img1", "a1", {}),
    ("2024-03-01T10:04:00Z", "image.marked_null", "img2", None, {}),
    ("2024-03-01T10:05:00Z", "image.model_assisted", "img3", None, {}),
    ("2024-03-02T10:00:00Z", "annotation.deleted", "img1", "a1", {}),
    ("2024-03-02T10:01:00Z", "annotation.created", "img1", "a3", {"modelAssisted": True}),
    ("2024-03-02T12:00:00Z", "image.approved", "img1", None, {}),
    ("2024-03-03T12:00:00Z", "image.rejected", "img2", None, {}),
]
WORKED_RANGE = {"startDate": "2024-03-01", "endDate": "2024-03-02"}
WORKED_ROW = {"boxesAdded": 3, "boxesRemoved": 2, "boxesUpdated": 1, "boxesDrawn": 1,
              "netBoxesAdded": 2, "netBoxesUpdated": 1, "imagesLabeled": 3, "markedNull": 1,
              "modelAssisted": 2, "approved": 1, "rejected": 0, "approvalRate": 100}
WORKED_TOTALS = {"numImagesLabeled": 2, "numBoxesDrawn": 1, "numImagesMarkedNull": 1,
                 "totalImagesUsingModelAssist": 2, "numBoxesAdded": 3, "numBoxesRemoved": 2,
                 "numBoxesUpdated": 1, "netBoxesAdded": 2, "netBoxesUpdated": 1, "approvalRate": 100}


def worked_events(project: str = "p", labeler: str = "A", prefix: str = "e") -> list[dict]:
    events = []
    for i, (time_, type_, image, annotation, extra) in enumerate(WORKED):
        event = {"id": f"{prefix}{i}", "type": type_, "time": time_, "project": project,
                 "image": image, "labeler": labeler, **extra}
        if annotation:
            event["annotation"] = annotation
        events.append(event)
    return events
