"""Backup and restore (issue 7.5): a round trip keeps every number, on and across backends."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotation_insights.demo.generator import generate_events, spec_for_event_count
from annotation_insights.errors import BadRequest, Conflict
from annotation_insights.events.ingest import ingest, validate_batch
from annotation_insights.metrics.query import StatsQuery, run_stats
from annotation_insights.store import backup as backup_module
from annotation_insights.store import open_database
from annotation_insights.store.queries import connectors as connectors_sql, tenancy as tenancy_sql
from annotation_insights.store.backup import DERIVED_TABLES, TABLES, backup, restore
from annotation_insights.tenancy.keys import authenticate, create_key, revoke_key
from annotation_insights.tenancy.reference import put_labeler, put_project
from annotation_insights.tenancy.workspaces import create_workspace, get_workspace
from cli.helpers import assert_one_line_error, check, run_cli
from reliability.harness import backend_name

END = dt.date(2026, 6, 30)
HOSTILE_LABELER = "Robert'); DROP TABLE events;--"


def populate(db) -> dict[str, str]:
    """Two workspaces in different timezones, names, emails, connector state and odd ids."""
    acme = create_workspace(db, "acme", name="Acme Vision")
    berlin = create_workspace(db, "berlin", timezone="Europe/Berlin")
    put_project(db, acme, "leaf-disease", "Leaf disease", "instance-segmentation")
    put_labeler(db, acme, "u-omar", "Omar", "omar@example.com", False)
    put_labeler(db, acme, "autolabelservice", "Auto", None, True)
    for ws, seed, n in ((acme, 7, 5_000), (berlin, 11, 2_500)):
        spec = spec_for_event_count(n, end=END, seed=seed, timezone=ws.timezone)
        events = list(generate_events(spec))
        for start in range(0, len(events), 2_000):
            ingest(db, ws, validate_batch(events[start:start + 2_000]))
    odd = [{"id": "odd-1", "type": "annotation.created", "time": "2026-06-01T23:30:00-05:00",
            "project": "p.x_y-1", "image": "画像 🖼", "labeler": HOSTILE_LABELER,
            "annotation": "a'1", "session": "s\"1", "modelAssisted": True, "class": "猫"},
           {"id": "odd-2", "type": "image.rejected", "time": "2026-06-02T00:00:00Z",
            "project": "p.x_y-1", "image": "画像 🖼", "labeler": HOSTILE_LABELER,
            "reviewer": "r-1"}]
    ingest(db, acme, validate_batch(odd))
    keys = {"acme": create_key(db, acme, ["read"]).key, "berlin": create_key(db, berlin).key,
            "revoked": create_key(db, acme, ["write"]).key}
    revoke_key(db, keys["revoked"])
    with db.transaction() as tx:
        tx.execute(connectors_sql.UPSERT_LS_ANNOTATION, {
            "workspace_id": acme.id, "project": "label-studio-3", "annotation_id": "17",
            "unique_id": "u-17", "image": "42", "labeler": "5", "version_us": 1_780_000_000_000_000,
            "regions": '{"r1": ["abc", "cat"]}', "deleted": False})
        tx.execute(connectors_sql.UPSERT_IMPORT_CHECKPOINT, {"workspace_id": berlin.id, "source": "file:x",
                                                "rows_done": 1234, "now": dt.datetime(2026, 6, 1, 12)})
    return keys


def contents(db) -> dict:
    """Everything a user could observe, keyed by workspace slug (internal ids may differ)."""
    with db.snapshot():  # a read of the rollups: DuckDB applies its backlog first
        pass

    def rows(sql: str) -> list[tuple]:
        return sorted(tuple(r) for r in db.read(sql))

    out = {
        "workspaces": rows("SELECT slug, name, timezone, created_at FROM workspaces"),
        "keys": rows("SELECT w.slug, k.id, k.key_hash, k.scopes, k.created_at, k.revoked_at "
                     "FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id"),
        "projects": rows("SELECT w.slug, p.slug, p.name, p.type FROM projects p "
                         "JOIN workspaces w ON w.id = p.workspace_id"),
        "labelers": rows("SELECT w.slug, l.id, l.display_name, l.email, l.is_system FROM labelers l "
                         "JOIN workspaces w ON w.id = l.workspace_id"),
        "events": rows("SELECT w.slug, e.event_id, e.type, e.time_us, e.project, "
                       "e.image, e.labeler, e.annotation, e.session, e.model_assisted, e.reviewer, "
                       "e.class FROM events e JOIN workspaces w ON w.id = e.workspace_id"),
        "label_studio": rows("SELECT w.slug, a.project, a.annotation_id, a.unique_id, a.image, "
                             "a.labeler, a.version_us, a.regions, a.deleted FROM "
                             "label_studio_annotations a JOIN workspaces w ON w.id = a.workspace_id"),
        "checkpoints": rows("SELECT w.slug, c.source, c.rows_done, c.updated_at FROM "
                            "import_checkpoints c JOIN workspaces w ON w.id = c.workspace_id"),
        "sessions": rows("SELECT w.slug, CAST(s.session_key AS TEXT), s.project, s.labeler, "
                         "s.explicit, s.first_time_us, s.session_date, s.boxes_added, "
                         "s.boxes_removed, s.boxes_updated, s.net_boxes_added, s.images_labeled, "
                         "s.marked_null, s.model_assisted FROM sessions s "
                         "JOIN workspaces w ON w.id = s.workspace_id"),
    }
    queries = [("2026-01-01", "2026-12-31", None, None), ("2026-06-10", "2026-06-20", None, None),
               ("2026-05-01", "2026-06-30", "leaf-disease", None),
               ("2026-06-01", "2026-06-02", None, HOSTILE_LABELER)]
    for slug in ("acme", "berlin"):
        ws = get_workspace(db, slug)
        for start, end, project, user in queries:
            if project and not db.read(tenancy_sql.SELECT_PROJECT, {"workspace_id": ws.id, "slug": project}):
                continue
            query = StatsQuery.parse(start=start, end=end, project=project, user_id=user,
                                     availability=dt.date(2023, 8, 1))
            out[f"stats {slug} {start} {end} {project} {user}"] = run_stats(db, ws, query)
    return out


@pytest.mark.parametrize("target", ["same backend", "other backend"])
def test_round_trip_keeps_every_row_key_and_number(database_url, other_backend_url, tmp_path, target):
    with open_database(database_url) as db:
        keys = populate(db)
        before = contents(db)
        summary = backup(db, tmp_path / "backup")
    assert summary.workspaces == {"acme": before_count(before, "acme"),
                                  "berlin": before_count(before, "berlin")}
    if target == "other backend":
        restored_url = other_backend_url
    elif backend_name(database_url) == "duckdb":
        restored_url = str(tmp_path / "same.duckdb")
    else:
        restored_url = database_url + "_restored"
        _create_database(restored_url)
    try:
        with open_database(restored_url) as db:
            restore(db, tmp_path / "backup")
            after = contents(db)
            assert authenticate(db, keys["acme"]).workspace.slug == "acme"
            assert authenticate(db, keys["berlin"]).scopes == frozenset({"read", "write", "admin"})
            assert authenticate(db, keys["revoked"]) is None
    finally:
        if restored_url.endswith("_restored"):
            _drop_database(restored_url)
    for name in before:
        assert after[name] == before[name], name
    assert any(HOSTILE_LABELER in row for row in after["labelers"])


def before_count(contents_: dict, slug: str) -> int:
    return sum(1 for row in contents_["events"] if row[0] == slug)


def _create_database(new_url: str) -> None:
    import psycopg

    admin = new_url.rpartition("/")[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{new_url.rpartition("/")[2]}"')


def _drop_database(url: str) -> None:
    import psycopg

    admin = url.rpartition("/")[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


@pytest.mark.backends("duckdb")
def test_backup_and_restore_stream_in_pages(database_url, tmp_path, monkeypatch):
    """Small pages: many row groups written and read, no row skipped or repeated at a boundary."""
    monkeypatch.setattr(backup_module, "PAGE_ROWS", 700)
    with open_database(database_url) as db:
        populate(db)
        before = contents(db)
        backup(db, tmp_path / "backup")
    events_file = pq.ParquetFile(tmp_path / "backup" / "events.parquet")
    assert events_file.num_row_groups >= 10
    assert events_file.metadata.num_rows == len(before["events"])
    with open_database(str(tmp_path / "restored.duckdb")) as db:
        progress: list[tuple[str, int]] = []
        restore(db, tmp_path / "backup", progress=lambda table, rows: progress.append((table, rows)))
        assert contents(db) == before
    event_steps = [rows for table, rows in progress if table == "events"]
    assert len(event_steps) >= 10 and event_steps[-1] == len(before["events"])


class _CountingReader:
    def __init__(self, reader):
        self.reader, self.statements = reader, []

    def read(self, sql, params=None):
        self.statements.append(sql)
        return self.reader.read(sql, params)

    def stream(self, sql, schema, batch_rows):
        self.statements.append(sql)
        return self.reader.stream(sql, schema, batch_rows)


def test_a_backup_reads_each_table_with_one_statement_however_many_pages(database_url, tmp_path, monkeypatch):
    """Read in pages of 700 rows, the 7,500 events would take 11 statements, each of which
    DuckDB answers by scanning and sorting the whole table: a 50M-event backup ran for hours."""
    monkeypatch.setattr(backup_module, "PAGE_ROWS", 700)
    with open_database(database_url) as db:
        populate(db)
        snapshot, readers = db.snapshot, []

        @contextlib.contextmanager
        def counted():
            with snapshot() as reader:
                readers.append(_CountingReader(reader))
                yield readers[-1]

        monkeypatch.setattr(db, "snapshot", counted)
        summary = backup(db, tmp_path / "backup")
    assert summary.events > 10 * 700
    [reader] = readers
    assert len(reader.statements) == len(TABLES) + 2  # and the schema version, the events per workspace
    assert pq.ParquetFile(tmp_path / "backup" / "events.parquet").num_row_groups >= 10


@pytest.mark.backends("duckdb")
def test_backup_files_hold_key_hashes_never_keys(database_url, tmp_path):
    with open_database(database_url) as db:
        keys = populate(db)
        backup(db, tmp_path / "backup")
    for path in (tmp_path / "backup").iterdir():
        data = path.read_bytes()
        text = json.dumps(pq.read_table(path).to_pylist(), default=str) if path.suffix == ".parquet" else ""
        for key in keys.values():
            secret = key.split("_", 2)[2]
            assert secret.encode() not in data and secret not in text, path.name


def test_every_table_is_backed_up_or_rebuilt(db):
    """A table added by a later migration must be added to the backup (or declared derived)."""
    names = {row[0] for row in db.read(
        "SELECT table_name FROM information_schema.tables WHERE table_schema IN ('main', 'public') "
        "AND table_type = 'BASE TABLE'")}
    assert names - DERIVED_TABLES == {t.name for t in TABLES}


@pytest.mark.backends("duckdb")
def test_restore_refuses_a_store_that_is_not_empty_and_changes_nothing(database_url, tmp_path):
    with open_database(database_url) as db:
        populate(db)
        backup(db, tmp_path / "backup")
        before = contents(db)
        with pytest.raises(Conflict, match="already holds workspaces"):
            restore(db, tmp_path / "backup")
        assert contents(db) == before


@pytest.mark.backends("duckdb")
def test_damaged_incomplete_or_newer_backups_are_refused(database_url, tmp_path):
    with open_database(database_url) as db:
        populate(db)
        backup(db, tmp_path / "backup")
        with pytest.raises(Conflict, match="not an empty directory"):
            backup(db, tmp_path / "backup")
    manifest_path = tmp_path / "backup" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["schemaVersion"] >= 1 and manifest["tables"]["events"]["rows"] > 7_000

    def refused(match: str) -> None:
        with open_database(str(tmp_path / f"target-{len(match)}.duckdb")) as target:
            with pytest.raises(BadRequest, match=match):
                restore(target, tmp_path / "backup")
            assert target.read("SELECT count(*) FROM workspaces")[0][0] == 0

    events_path = tmp_path / "backup" / "events.parquet"
    original = events_path.read_bytes()
    events_path.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
    refused("damaged")
    events_path.write_bytes(original)
    manifest_path.write_text(json.dumps({**manifest, "schemaVersion": 999}))
    refused("newer annotation-insights")
    manifest_path.unlink()
    refused("interrupted")


@pytest.mark.backends("duckdb")
def test_an_event_type_this_version_does_not_know_is_refused(database_url, tmp_path):
    with open_database(database_url) as db:
        populate(db)
        backup(db, tmp_path / "backup")
    events_path = tmp_path / "backup" / "events.parquet"
    events = pq.read_table(events_path)
    types = events.column("type").to_pylist()
    types[-1] = "image.archived"
    pq.write_table(events.set_column(events.schema.get_field_index("type"), "type",
                                     pa.array(types, pa.string())), events_path)
    manifest_path = tmp_path / "backup" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["events"]["sha256"] = hashlib.sha256(events_path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    with open_database(str(tmp_path / "target.duckdb")) as target:
        with pytest.raises(BadRequest, match="unknown type 'image.archived'"):
            restore(target, tmp_path / "backup")


def test_cli_backup_then_restore_into_the_other_backend(database_url, other_backend_url, tmp_path):
    with open_database(database_url) as db:
        populate(db)
        before = contents(db)
    result = check(run_cli("backup", str(tmp_path / "b"), database=database_url, timeout=120))
    assert "Backed up 2 workspace(s)" in result.stdout
    result = check(run_cli("restore", str(tmp_path / "b"), database=other_backend_url, timeout=180))
    assert "Restored 2 workspace(s)" in result.stdout
    with open_database(other_backend_url) as db:
        assert contents(db) == before
    again = run_cli("restore", str(tmp_path / "b"), database=other_backend_url)
    assert_one_line_error(again, "already holds workspaces")

