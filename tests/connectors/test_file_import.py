"""`annotation-insights import FILE`: NDJSON, CSV and Parquet in the SPEC §3 schema."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import mmap
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from annotation_insights.cli.main import app
from annotation_insights.connectors.files import EventFile
from annotation_insights.connectors import files
from annotation_insights.connectors.importer import Rejects, import_blocks, run_import, source_fingerprint
from annotation_insights.metrics.query import StatsQuery, run_stats

COLUMNS = ["id", "type", "time", "project", "image", "labeler", "annotation", "session",
           "modelAssisted", "reviewer", "class"]
WORKED = [  # SPEC §8
    ("2024-03-01T10:00:00Z", "annotation.created", "img1", "a1", None),
    ("2024-03-01T10:01:00Z", "annotation.created", "img1", "a2", None),
    ("2024-03-01T10:02:00Z", "annotation.deleted", "img1", "a2", None),
    ("2024-03-01T10:03:00Z", "annotation.updated", "img1", "a1", None),
    ("2024-03-01T10:04:00Z", "image.marked_null", "img2", None, None),
    ("2024-03-01T10:05:00Z", "image.model_assisted", "img3", None, None),
    ("2024-03-02T10:00:00Z", "annotation.deleted", "img1", "a1", None),
    ("2024-03-02T10:01:00Z", "annotation.created", "img1", "a3", True),
    ("2024-03-02T12:00:00Z", "image.approved", "img1", None, None),
    ("2024-03-03T12:00:00Z", "image.rejected", "img2", None, None),
]


def worked_events() -> list[dict]:
    events = []
    for i, (time, type_, image, annotation, assisted) in enumerate(WORKED):
        event = {"id": f"e{i}", "type": type_, "time": time, "project": "p", "image": image,
                 "labeler": "A"}
        if annotation:
            event["annotation"] = annotation
        if assisted is not None:
            event["modelAssisted"] = assisted
        events.append(event)
    return events


def write(path, fmt: str, events: list[dict]) -> None:
    if fmt == "ndjson":
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
    elif fmt == "csv":
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            for e in events:
                writer.writerow({k: ("true" if v is True else v) for k, v in e.items()})
    else:
        table = pa.table({c: [e.get(c) for e in events] for c in COLUMNS
                          if c != "modelAssisted"} | {
            "modelAssisted": pa.array([e.get("modelAssisted") for e in events], pa.bool_())})
        pq.write_table(table, path)


def import_file(db, tenant, path, fmt, *, batch_size=3, rows=None, blocks=None):
    """As `annotation-insights import` does it (by blocks), or from the given rows."""
    options = {"source": source_fingerprint(fmt, path), "batch_size": batch_size,
               "rejects": Rejects(path.with_name(path.name + ".rejected.ndjson"), append=True)}
    if rows is not None:
        return run_import(db, tenant.workspace, rows, **options)
    return import_blocks(db, tenant.workspace, blocks or EventFile(path, fmt).blocks(), **options)


def worked_answer(db, tenant):
    query = StatsQuery.parse(start="2024-03-01", end="2024-03-02", availability=dt.date(2023, 8, 1))
    return run_stats(db, tenant.workspace, query)


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_each_format_imports_the_worked_example(db, tenant, tmp_path, fmt):
    path = tmp_path / f"events.{fmt}"
    write(path, fmt, worked_events())
    summary = import_file(db, tenant, path, fmt)
    assert (summary.rows, summary.accepted, summary.duplicates, summary.rejected) == (10, 10, 0, 0)
    answer = worked_answer(db, tenant)
    assert answer["stats"] == {
        "numImagesLabeled": 2, "numBoxesDrawn": 1, "numImagesMarkedNull": 1,
        "totalImagesUsingModelAssist": 2, "numBoxesAdded": 3, "numBoxesRemoved": 2,
        "numBoxesUpdated": 1, "netBoxesAdded": 2, "netBoxesUpdated": 1, "approvalRate": 100}


def test_reimporting_is_a_no_op(db, tenant, tmp_path):
    path = tmp_path / "events.ndjson"
    write(path, "ndjson", worked_events())
    import_file(db, tenant, path, "ndjson")
    again = import_file(db, tenant, path, "ndjson")
    assert (again.accepted, again.duplicates) == (0, 10)


def test_bad_rows_are_written_with_reasons_and_the_rest_imported(db, tenant, tmp_path):
    events = worked_events()
    events[2]["time"] = "yesterday"
    del events[4]["labeler"]
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + "{not json\n")
    summary = import_file(db, tenant, path, "ndjson")
    assert (summary.accepted, summary.rejected) == (8, 3)
    rejected = [json.loads(line) for line in summary.rejects_path.read_text().splitlines()]
    assert [(r["row"], r["field"]) for r in rejected] == [(3, "time"), (5, "labeler"), (11, None)]
    assert rejected[0]["event"]["id"] == "e2" and "RFC 3339" in rejected[0]["message"]


def test_a_line_that_is_not_utf8_is_rejected_and_the_rest_imported(db, tenant, tmp_path):
    lines = [json.dumps(e).encode() for e in worked_events()]
    lines[3] = lines[3].replace(b'"img1"', b'"img\xff"')
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    summary = import_file(db, tenant, path, "ndjson")
    assert (summary.accepted, summary.rejected) == (9, 1)
    rejected = json.loads(summary.rejects_path.read_text())
    assert rejected["row"] == 4 and "not valid JSON" in rejected["message"]


def test_an_interrupted_import_resumes_after_the_last_committed_batch(db, tenant, tmp_path):
    path = tmp_path / "events.csv"
    write(path, "csv", worked_events())

    def dies_at_row_8():
        for number, raw in EventFile(path, "csv").rows():
            if number == 8:
                raise KeyboardInterrupt
            yield number, raw

    with pytest.raises(KeyboardInterrupt):
        import_file(db, tenant, path, "csv", rows=dies_at_row_8())
    stored = db.read("SELECT count(*) FROM events WHERE workspace_id = :w", {"w": tenant.workspace.id})
    assert stored[0][0] == 6  # two batches of 3 committed, the third lost with the crash
    resumed = import_file(db, tenant, path, "csv")
    assert (resumed.resumed_after, resumed.accepted, resumed.duplicates) == (6, 4, 0)
    assert worked_answer(db, tenant)["stats"]["netBoxesAdded"] == 2
    # Finished: the checkpoint is gone, so the next run reads everything (all duplicates).
    assert import_file(db, tenant, path, "csv").duplicates == 10


def test_parquet_naive_timestamps_are_rejected_but_zoned_ones_read(db, tenant, tmp_path):
    path = tmp_path / "events.parquet"
    base = {"type": ["image.marked_null"] * 2, "project": ["p"] * 2, "image": ["1", "2"],
            "labeler": ["A"] * 2, "id": ["n1", "n2"]}
    pq.write_table(pa.table({**base, "time": pa.array(
        [dt.datetime(2024, 3, 1, 10), dt.datetime(2024, 3, 1, 11)], pa.timestamp("us", tz="UTC"))}), path)
    assert import_file(db, tenant, path, "parquet").accepted == 2
    pq.write_table(pa.table({**base, "id": ["n3", "n4"], "time": pa.array(
        [dt.datetime(2024, 3, 1, 10), dt.datetime(2024, 3, 1, 11)], pa.timestamp("us"))}), path)
    summary = import_file(db, tenant, path, "parquet")
    assert (summary.accepted, summary.rejected) == (0, 2)


def test_cli_import_prints_a_summary(database_url, tmp_path):
    from annotation_insights.store import open_database
    from annotation_insights.tenancy.workspaces import create_workspace

    with open_database(database_url) as db:
        create_workspace(db, "acme")
    path = tmp_path / "events.ndjson"
    write(path, "ndjson", worked_events() + [{"id": "bad"}])
    runner = CliRunner()
    result = runner.invoke(app, ["--database", database_url, "import", str(path),
                                 "--workspace", "acme"])
    assert result.exit_code == 0, result.output
    assert "11 rows, 10 events (10 new, 0 already stored)" in result.output
    assert "rejected 1 rows" in result.output
    assert (tmp_path / "events.ndjson.rejected.ndjson").exists()
    result = runner.invoke(app, ["--database", database_url, "import", str(tmp_path / "nope.csv"),
                                 "--workspace", "acme"])
    assert result.exit_code == 1 and "No such file" in result.output


def test_blocks_read_as_columns_import_alike_and_a_bad_row_is_still_reported_alone(
        db, tenant, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "BLOCK_BYTES", 400)  # about two events a block
    events = worked_events()
    events[6]["labeler"] = ""
    path = tmp_path / "events.ndjson"
    write(path, "ndjson", events)
    assert len(list(EventFile(path, "ndjson").blocks())) >= 3
    summary = import_file(db, tenant, path, "ndjson")
    assert (summary.rows, summary.accepted, summary.rejected) == (10, 9, 1)
    rejected = [json.loads(line) for line in summary.rejects_path.read_text().splitlines()]
    assert [(r["row"], r["field"]) for r in rejected] == [(7, "labeler")]


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_a_files_last_few_rows_are_read_with_the_block_before_them(db, tenant, tmp_path, monkeypatch, fmt):
    """Blocks of 4, 8, 16 and 32 rows, then 2 left: those 2 would be a commit of their own
    (each has a fixed cost), so the last block takes them, and every row is read once,
    in order."""
    events = [{"id": f"e{i:04}", "type": "image.marked_null", "time": "2024-03-01T10:00:00Z",
               "project": "p", "image": f"img{i:04}", "labeler": "A"} for i in range(62)]
    path = tmp_path / f"events.{fmt}"
    write(path, fmt, events)
    line = len(json.dumps(events[0])) + 1  # every line is as long
    monkeypatch.setattr(files, "BLOCK_BYTES", 32 * line)
    monkeypatch.setattr(files, "BLOCK_ROWS", 32)
    blocks = list(EventFile(path, fmt).blocks())
    assert [(b.first_row, b.last_row) for b in blocks] == [(1, 4), (5, 12), (13, 28), (29, 62)]
    assert [row[1]["id"] for b in blocks for row in b.rows()] == [e["id"] for e in events]
    assert import_file(db, tenant, path, fmt).accepted == 62


def test_an_import_by_blocks_resumes_after_the_last_committed_block(db, tenant, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "BLOCK_BYTES", 400)
    path = tmp_path / "events.ndjson"
    write(path, "ndjson", worked_events())

    def dies_at_the_third_block():
        for number, block in enumerate(EventFile(path, "ndjson").blocks(), start=1):
            if number == 3:
                raise KeyboardInterrupt
            yield block

    with pytest.raises(KeyboardInterrupt):
        import_file(db, tenant, path, "ndjson", blocks=dies_at_the_third_block())
    stored = db.read("SELECT count(*) FROM events WHERE workspace_id = :w", {"w": tenant.workspace.id})[0][0]
    assert 0 < stored < 10
    resumed = import_file(db, tenant, path, "ndjson")
    assert (resumed.resumed_after, resumed.accepted, resumed.duplicates) == (stored, 10 - stored, 0)
    assert worked_answer(db, tenant)["stats"]["netBoxesAdded"] == 2


def test_parquet_integer_ids_are_ids(db, tenant, tmp_path):
    path = tmp_path / "events.parquet"
    pq.write_table(pa.table({
        "id": pa.array([1, 2], pa.int64()), "type": ["image.marked_null"] * 2, "project": ["p"] * 2,
        "image": pa.array([17, -3], pa.int32()), "labeler": ["A"] * 2,
        "time": pa.array([dt.datetime(2024, 3, 1, 10)] * 2, pa.timestamp("ms", tz="Europe/Berlin"))}), path)
    assert import_file(db, tenant, path, "parquet").accepted == 2
    rows = db.read("SELECT event_id, image, time_us FROM events WHERE workspace_id = :w ORDER BY event_id",
                   {"w": tenant.workspace.id})
    assert rows == [("1", "17", 1709287200000000), ("2", "-3", 1709287200000000)]


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=12),
       last_newline=st.booleans(), sizes=st.lists(st.integers(1, 30), min_size=1, max_size=6))
def test_line_blocks_are_whole_lines_that_add_up_to_the_file(lines, last_newline, sizes):
    content = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    with tempfile.TemporaryFile() as file:
        file.write(content)
        file.flush()
        blocks = [bytes(block) for block in files._line_blocks(file, itertools.cycle(sizes))]
    assert b"".join(blocks) == content
    assert all(block.endswith(b"\n") for block in blocks[:-1])
    assert all(block for block in blocks)


def test_a_block_of_a_large_file_starts_inside_a_mapped_window(tmp_path):
    line = b'{"id":"%06d"}\n'
    content = b"".join(line % n for n in range(3 * mmap.ALLOCATIONGRANULARITY // len(line % 0) + 7))
    path = tmp_path / "lines.ndjson"
    path.write_bytes(content)
    with path.open("rb") as f:
        blocks = list(files._line_blocks(f, itertools.repeat(mmap.ALLOCATIONGRANULARITY + 5)))
    assert len(blocks) > 2 and b"".join(blocks) == content
    assert all(block.tobytes().endswith(b"\n") for block in blocks)
