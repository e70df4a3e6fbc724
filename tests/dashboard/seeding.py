"""Data the dashboard tests share: SPEC §8's worked example, demo streams, a seeded store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import islice

import httpx

from annotation_insights.demo.generator import DemoSpec, demo_labelers, demo_projects, generate_events
from annotation_insights.events.ingest import ingest, validate_batch
from annotation_insights.store import open_database
from annotation_insights.tenancy.keys import create_key, revoke_key
from annotation_insights.tenancy.reference import put_labeler, put_project
from annotation_insights.tenancy.workspaces import Workspace, create_workspace
from support.worked_example import worked_events as spec_worked_events

# SPEC §8, in project "boats", with labeler "A" renamed to something a careless page would break on.
HOSTILE_LABELER = '<img src=x onerror="window.pwned=1">'


def worked_events(project: str = "boats", labeler: str = "A", prefix: str = "w") -> list[dict]:
    return spec_worked_events(project, labeler, prefix)


def load_demo(db, workspace: Workspace, spec: DemoSpec) -> int:
    """Ingest the generator's stream for `spec` with its project and labeler names."""
    for project in demo_projects(spec):
        put_project(db, workspace, project["slug"], project["name"], project["type"])
    for lab in demo_labelers(spec):
        put_labeler(db, workspace, lab["id"], lab["displayName"], lab["email"], lab["system"])
    events, total = generate_events(spec), 0
    while batch := list(islice(events, 5_000)):
        total += ingest(db, workspace, validate_batch(batch, max_events=5_000)).accepted
    return total


@dataclass
class Live:
    url: str
    demo_key: str
    handmade_key: str
    revoked_key: str
    write_only_key: str
    today: dt.date

    def get(self, path: str, key: str | None = None, **params) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.demo_key}"}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=30)

    def stats(self, workspace: str = "demo", key: str | None = None, **params) -> dict:
        response = self.get(f"/{workspace}/stats", key, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def timeseries(self, workspace: str = "demo", key: str | None = None, **params) -> dict:
        response = self.get(f"/{workspace}/stats/timeseries", key, **params)
        assert response.status_code == 200, response.text
        return response.json()


def seed(path: str) -> Live:
    today = dt.datetime.now(dt.timezone.utc).date()
    with open_database(path) as db:
        demo = create_workspace(db, "demo", name="Demo Vision Team")
        load_demo(db, demo, DemoSpec(days=100, labelers=5, projects=3, end=today,
                                     images_per_labeler_day=6, boxes_per_image=3))
        hand = create_workspace(db, "handmade", name="Hand Made", timezone="Europe/Berlin")
        put_project(db, hand, "boats", 'Boats, "big" ones', "object-detection")
        put_labeler(db, hand, HOSTILE_LABELER, "Ann <b>O'Brien</b>, QA", "ann@example.com", False)
        ingest(db, hand, validate_batch(worked_events(labeler=HOSTILE_LABELER)))
        revoked = create_key(db, demo, ["read"])
        revoke_key(db, revoked.id)
        return Live("", create_key(db, demo, ["read"]).key, create_key(db, hand, ["read"]).key,
                    revoked.key, create_key(db, demo, ["write"]).key, today)
