"""A whole table read as it is consumed (a backup's reads), on both backends: every row
once, in tables of the asked-for schema and size."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from annotation_insights.demo.generator import generate_events, spec_for_event_count
from annotation_insights.events.ingest import ingest, validate_batch
from annotation_insights.tenancy.workspaces import create_workspace

SCHEMA = pa.schema([("event_id", pa.string()), ("time_us", pa.int64()), ("session", pa.string())])
SQL = "SELECT event_id, time_us, session FROM events"


def test_a_stream_yields_every_row_once_in_tables_of_the_schema(db):
    ws = create_workspace(db, "acme")
    events = list(generate_events(spec_for_event_count(2_500, end=dt.date(2026, 6, 30))))
    ingest(db, ws, validate_batch(events))
    tables = list(db.stream(SQL, SCHEMA, 1_000))
    assert all(table.schema == SCHEMA for table in tables)
    sizes = [table.num_rows for table in tables]
    assert sizes[:-1] == [1_000] * (len(sizes) - 1) and 0 < sizes[-1] <= 1_000
    streamed = [row for table in tables for row in zip(*(column.to_pylist() for column in table.columns))]
    assert len(streamed) == len(events) and sorted(streamed, key=repr) == sorted(db.read(SQL), key=repr)
