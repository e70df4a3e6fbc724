"""`annotation-insights import cvat EVENTS.csv`: CVAT's analytics event export."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from annotation_insights.cli.main import app
from annotation_insights.connectors.cvat import CvatConverter, parse_timestamp
from annotation_insights.connectors.files import EventFile
from annotation_insights.connectors.importer import Rejects, run_import

COLUMNS = ["scope", "obj_name", "obj_id", "obj_val", "source", "timestamp", "count", "duration",
           "project_id", "task_id", "job_id", "user_id", "user_name", "user_email", "org_id",
           "org_slug", "payload"]
ANA = {"user_id": "7", "user_name": "ana", "user_email": "ana@example.org"}
REV = {"user_id": "9", "user_name": "rev", "user_email": "rev@example.org"}
JOB = {"project_id": "3", "task_id": "11", "job_id": "21", "source": "server"}


def row(scope, ts, who=ANA, payload=None, **extra):
    return {"scope": scope, "timestamp": ts, **JOB, **who,
            "payload": json.dumps(payload) if payload is not None else "", **extra}


EXPORT = [
    row("create:project", "2024-03-01 08:00:00.000", obj_name="Harbor", obj_id="3"),
    row("update:job", "2024-03-01 08:30:00.000", obj_name="assignee", obj_id="7", obj_val="{'id': 7}"),
    row("create:shapes", "2024-03-01 09:00:00.120", obj_name="rectangle", count="2",
        payload={"shapes": [{"id": 101}, {"id": 102}]}),
    row("create:tracks", "2024-03-01 09:01:00.000", obj_name="rectangle", count="1",
        payload={"tracks": [{"id": 5, "shapes": [{"id": 900}]}]}),
    row("create:tags", "2024-03-01 09:02:00.000", count="1", payload={"tags": [{"id": 40}]}),
    row("update:shapes", "2024-03-01 09:03:00.000", obj_name="rectangle", count="1",
        payload={"shapes": [{"id": 101}]}),
    row("delete:shapes", "2024-03-01 09:04:00.000", obj_name="rectangle", count="1",
        payload={"shapes": [{"id": 102}]}),
    row("create:shapes", "2024-03-01 09:05:00.000", obj_name="polygon", count="2"),  # no payload
    row("send:working_time", "2024-03-01 09:06:00.000", payload={"working_time": 120000}),
    row("update:job", "2024-03-01 09:10:00.000", who=REV, obj_name="stage", obj_val="validation",
        payload={"old_value": "annotation"}),
    row("update:job", "2024-03-01 09:20:00.000", who=REV, obj_name="state", obj_val="rejected",
        payload={"old_value": "in progress"}),
    row("update:job", "2024-03-01 09:20:01.000", who=REV, obj_name="stage", obj_val="annotation",
        payload={"old_value": "validation"}),  # same rejection, second field
    row("update:job", "2024-03-02 10:00:00.000", who=REV, obj_name="stage", obj_val="acceptance",
        payload={"old_value": "validation"}),
    row("frobnicate:widgets", "2024-03-02 10:01:00.000"),
    row("create:shapes", "2024-03-02 10:02:00.000", who={"user_id": "", "user_name": "", "user_email": ""},
        count="1", payload={"shapes": [{"id": 103}]}),
]


def write_export(path, rows, columns=COLUMNS):
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def run(db, tenant, path):
    converter = CvatConverter()
    summary = run_import(db, tenant.workspace, EventFile(path, "csv", csv_record=dict).rows(),
                         source="cvat-test", convert=converter,
                         rejects=Rejects(path.with_name("rejects.ndjson"), append=False))
    return converter, summary


def test_cvat_rows_become_annotation_and_review_events(db, tenant, tmp_path):
    path = tmp_path / "events.csv"
    write_export(path, EXPORT)
    converter, summary = run(db, tenant, path)
    rows = db.read("SELECT type, project, image, labeler, annotation, reviewer FROM events "
                   "WHERE workspace_id = :w ORDER BY time_us, annotation", {"w": tenant.workspace.id})
    kinds = [(r[0], r[4]) for r in rows]
    assert kinds[:6] == [
        ("annotation.created", "shape-101"), ("annotation.created", "shape-102"),
        ("annotation.created", "track-5"), ("annotation.created", "tag-40"),
        ("annotation.updated", "shape-101"), ("annotation.deleted", "shape-102")]
    assert [k[0] for k in kinds[6:]] == ["annotation.created"] * 2 + ["image.rejected", "image.approved"]
    assert {r[1] for r in rows} == {"cvat-3"}
    assert {r[2] for r in rows} == {"task-11/job-21"}
    reviews = [r for r in rows if r[0].startswith("image.")]
    assert [(r[3], r[5]) for r in reviews] == [("7", "9"), ("7", "9")]
    assert summary.rejected == 1  # the row without a user
    assert summary.skipped == {"scope create:project": 1, "scope send:working_time": 1,
                               "scope frobnicate:widgets": 1, "update:job assignee": 1,
                               "update:job stage": 1, "update:job (same review, second field)": 1}
    assert converter.labelers["7"] == ("ana", "ana@example.org")


def test_cvat_cli_import_names_labelers_and_projects_and_is_idempotent(database_url, tmp_path):
    from annotation_insights.metrics.query import StatsQuery, run_stats
    from annotation_insights.store import open_database
    from annotation_insights.tenancy.workspaces import create_workspace, get_workspace
    import datetime as dt

    with open_database(database_url) as db:
        create_workspace(db, "acme")
    path = tmp_path / "cvat.csv"
    write_export(path, EXPORT)
    runner = CliRunner()
    args = ["--database", database_url, "import", "cvat", str(path), "--workspace", "acme"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "10 events (10 new" in first.output and "rejected 1 rows" in first.output
    second = runner.invoke(app, args)
    assert "(0 new, 10 already stored)" in second.output
    with open_database(database_url) as db:
        ws = get_workspace(db, "acme")
        answer = run_stats(db, ws, StatsQuery.parse(start="2024-03-01", end="2024-03-02",
                                                    availability=dt.date(2023, 8, 1)))
    row, = answer["data"]
    assert (row["projectName"], row["boxesAdded"], row["boxesUpdated"], row["boxesRemoved"],
            row["approved"], row["rejected"]) == ("Harbor", 6, 1, 1, 1, 1)
    assert answer["labelers"] == [{"id": "7", "displayName": "ana", "email": "ana@example.org"}]


def test_older_exports_with_fewer_columns_and_frames_in_payload(db, tenant, tmp_path):
    older = ["scope", "obj_name", "obj_id", "obj_val", "source", "timestamp", "count",
             "project_id", "task_id", "job_id", "user_id", "user_name", "payload"]
    path = tmp_path / "old.csv"
    write_export(path, [row("create:shapes", "2023-09-01T10:00:00.5+00:00", count="1",
                            payload={"shapes": [{"id": 1, "frame": 4, "label_id": 2}]})], older)
    run(db, tenant, path)
    assert db.read("SELECT image, class, time_us FROM events WHERE workspace_id = :w",
                   {"w": tenant.workspace.id}) == [("task-11/frame-4", "label-2", 1693562400500000)]


def test_timestamp_forms():
    assert parse_timestamp("2024-03-01 10:00:00.123") == "2024-03-01T10:00:00.123Z"
    assert parse_timestamp("2024-03-01T10:00:00Z") == "2024-03-01T10:00:00Z"
    assert parse_timestamp("1709287200.5") == "2024-03-01T10:00:00.500000Z"
    assert parse_timestamp("") is None
