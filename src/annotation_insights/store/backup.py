"""Backup and restore of the whole store: a directory of Parquet files and a manifest.

A backup holds the source tables only — workspaces, API keys (their hashes: a key is
never stored), projects, labelers, raw events and the connectors' state. The rollups
are not copied: restore re-ingests the events through `events.ingest`, so the restored
rollups are consistent with the restored events by construction, on either backend. A
DuckDB backup therefore restores into PostgreSQL and the reverse.

Both directions stream: each table is read by one statement, as stored, inside one read
snapshot (so a backup of a PostgreSQL store that is serving is still one consistent
moment), and written one Parquet row group per page of rows; restore reads row groups
back one at a time.
`manifest.json` is written last, with each file's row count and SHA-256: a directory
without it is an interrupted backup, and restore refuses any file that does not match.

Restore needs an empty store (no workspace). Workspace ids are internal and renumbered;
slugs, key ids and key hashes are kept, so every existing key keeps working.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from annotation_insights.errors import BadRequest, Conflict
from annotation_insights.events.batch import EVENT_SCHEMA, batch_of_table
from annotation_insights.events.ingest import ingest
from annotation_insights.events.schema import EVENT_TYPES
from annotation_insights.store.queries import connectors as connectors_sql, tenancy as tenancy_sql
from annotation_insights.store.database import Database, Reader, Transaction
from annotation_insights.store.migrations import LATEST_VERSION
from annotation_insights.tenancy.workspaces import Workspace

FORMAT = "annotation-insights-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PAGE_ROWS = 20_000
# Derived from `events` by ingest, or bookkeeping: rebuilt, never copied.
DERIVED_TABLES = frozenset(("sessions", "session_images", "session_annotations", "review_days",
                            "image_fact_days", "rollup_progress", "schema_version"))

Progress = Callable[[str, int], None]
_TEXT, _BIG, _BOOL, _TIME = pa.string(), pa.int64(), pa.bool_(), pa.timestamp("us")
_EVENT_TYPES = pa.array(sorted(EVENT_TYPES))


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, pa.DataType], ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(self.columns)

    @property
    def select_sql(self) -> str:
        """The whole table as stored, unordered: DuckDB has no index to read `events` in
        key order, so reading it in key-ordered pages scanned and sorted the table once
        a page (a 50M-event store: 2,547 pages; after 10 minutes, a ninth of them)."""
        return f"SELECT {', '.join(name for name, _ in self.columns)} FROM {self.name}"


TABLES = (
    Table("workspaces", (("id", _BIG), ("slug", _TEXT), ("name", _TEXT), ("timezone", _TEXT),
                         ("created_at", _TIME))),
    Table("api_keys", (("id", _TEXT), ("workspace_id", _BIG), ("key_hash", _TEXT),
                       ("scopes", _TEXT), ("created_at", _TIME), ("revoked_at", _TIME))),
    Table("projects", (("workspace_id", _BIG), ("slug", _TEXT), ("name", _TEXT), ("type", _TEXT))),
    Table("labelers", (("workspace_id", _BIG), ("id", _TEXT), ("display_name", _TEXT),
                       ("email", _TEXT), ("is_system", _BOOL))),
    Table("label_studio_annotations", (
        ("workspace_id", _BIG), ("project", _TEXT), ("annotation_id", _TEXT), ("unique_id", _TEXT),
        ("image", _TEXT), ("labeler", _TEXT), ("version_us", _BIG), ("regions", _TEXT),
        ("deleted", _BOOL))),
    Table("import_checkpoints", (("workspace_id", _BIG), ("source", _TEXT), ("rows_done", _BIG),
                                 ("updated_at", _TIME))),
    Table("events", (
        ("workspace_id", _BIG), ("event_id", _TEXT), ("type", _TEXT), ("time_us", _BIG), ("project", _TEXT), ("image", _TEXT),
        ("labeler", _TEXT), ("annotation", _TEXT), ("session", _TEXT),
        ("model_assisted", _BOOL), ("reviewer", _TEXT), ("class", _TEXT))),
)
BY_NAME = {t.name: t for t in TABLES}


@dataclass(frozen=True)
class Summary:
    workspaces: dict[str, int]  # slug -> events
    rows: dict[str, int]  # table -> rows

    @property
    def events(self) -> int:
        return self.rows.get("events", 0)


# --- backup --------------------------------------------------------------------------

def backup(db: Database, directory: str | os.PathLike, *, progress: Progress | None = None) -> Summary:
    """Write the whole store to `directory` (new or empty) as Parquet plus a manifest."""
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Conflict(f"{target} already exists and is not an empty directory; "
                       "back up into a new directory.")
    target.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    with db.snapshot() as reader:
        schema_version = reader.read("SELECT max(version) FROM schema_version")[0][0]
        for table in TABLES:
            path = target / f"{table.name}.parquet"
            rows = _write_table(reader, table, path, progress)
            files[table.name] = {"file": path.name, "rows": rows, "sha256": _sha256(path)}
        per_workspace = dict(reader.read(tenancy_sql.EVENTS_PER_WORKSPACE))
    manifest = {
        "format": FORMAT, "formatVersion": FORMAT_VERSION, "schemaVersion": schema_version,
        "createdAt": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "sourceBackend": db.dialect.name, "tables": files,
        "workspaces": {slug: {"events": int(n)} for slug, n in per_workspace.items()},
    }
    partial = target / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    partial.replace(target / MANIFEST)
    return Summary({s: int(n) for s, n in per_workspace.items()},
                   {name: f["rows"] for name, f in files.items()})


def _write_table(reader: Reader, table: Table, path: Path, progress: Progress | None) -> int:
    done = 0
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        for rows in reader.stream(table.select_sql, table.schema, PAGE_ROWS):
            writer.write_table(rows)
            done += rows.num_rows
            if progress:
                progress(table.name, done)
    return done


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- restore -------------------------------------------------------------------------

def read_manifest(directory: str | os.PathLike) -> dict:
    """The backup's manifest, after checking it is complete, readable and intact."""
    source = Path(directory)
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadRequest(f"{source} holds no {MANIFEST}: it is not a backup, or the backup "
                         "was interrupted.") from None
    except (OSError, ValueError) as exc:
        raise BadRequest(f"Cannot read {source / MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadRequest(f"{source} is not an annotation-insights backup.")
    if manifest.get("formatVersion", 0) > FORMAT_VERSION or manifest.get("schemaVersion", 0) > LATEST_VERSION:
        raise BadRequest("This backup was made by a newer annotation-insights; upgrade to restore it.")
    for name in ("workspaces", "api_keys", "events"):
        if name not in manifest.get("tables", {}):
            raise BadRequest(f"The backup's manifest lists no {name} table.")
    for name, entry in manifest["tables"].items():
        path = source / entry["file"]
        if name not in BY_NAME or not path.is_file() or _sha256(path) != entry["sha256"]:
            raise BadRequest(f"The backup file {path} is missing, unknown or damaged "
                             "(its checksum does not match the manifest).")
    return manifest


def restore(db: Database, directory: str | os.PathLike, *, progress: Progress | None = None) -> Summary:
    """Load a backup into an empty store; events are re-ingested, rebuilding every rollup."""
    source = Path(directory)
    manifest = read_manifest(source)
    if db.read("SELECT count(*) FROM workspaces")[0][0]:
        raise Conflict(f"The store {db.description} already holds workspaces; restore into an "
                       "empty store (a new DuckDB file or an empty PostgreSQL database).")
    tables = manifest["tables"]
    with db.transaction() as tx:
        workspaces = _restore_workspaces(tx, source / tables["workspaces"]["file"])
        for name in ("api_keys", "projects", "labelers", "label_studio_annotations",
                     "import_checkpoints"):
            if name in tables:
                _restore_rows(tx, name, source / tables[name]["file"], workspaces)
                if progress:
                    progress(name, tables[name]["rows"])
    done = 0
    for batch in _read_batches(source / tables["events"]["file"], "events"):
        # Valid when stored; only a type this version does not know is refused.
        types = batch.column("type")
        unknown = types.filter(pc.invert(pc.is_in(types, value_set=_EVENT_TYPES)))
        if len(unknown):
            raise BadRequest(f"The backup holds an event of unknown type {unknown[0].as_py()!r}.")
        workspace_ids = batch.column("workspace_id")
        for workspace_id in pc.unique(workspace_ids).to_pylist():
            events = batch.filter(pc.equal(workspace_ids, workspace_id)).select(EVENT_SCHEMA.names)
            ingest(db, workspaces[workspace_id], batch_of_table(events.cast(EVENT_SCHEMA)))
            done += events.num_rows
        if progress:
            progress("events", done)
    counts = dict(db.read(tenancy_sql.EVENTS_PER_WORKSPACE))
    expected = {slug: entry["events"] for slug, entry in manifest["workspaces"].items()}
    if {s: int(n) for s, n in counts.items()} != expected:
        raise Conflict("The restored store does not hold the events the backup lists; "
                       "delete it and restore again.")
    return Summary(expected, {name: entry["rows"] for name, entry in tables.items()})


def _read_batches(path: Path, table: str) -> Iterator[pa.Table]:
    """Rows of the columns this version stores; others are ignored (backups of schema
    version 2 and older also carry each event id's hash, which is no longer stored)."""
    parquet = pq.ParquetFile(path)
    expected, found = BY_NAME[table].schema, parquet.schema_arrow
    if any(found.get_field_index(f.name) < 0 or found.field(f.name).type != f.type for f in expected):
        raise BadRequest(f"The backup file {path} does not have the columns of {table}.")
    for batch in parquet.iter_batches(batch_size=PAGE_ROWS, columns=expected.names):
        yield pa.Table.from_batches([batch])


def _read_rows(path: Path, table: str) -> Iterator[list[dict]]:
    for batch in _read_batches(path, table):
        yield batch.to_pylist()


def _restore_workspaces(tx: Transaction, path: Path) -> dict[int, Workspace]:
    restored = {}
    for rows in _read_rows(path, "workspaces"):
        for r in rows:
            new_id = tx.execute(tenancy_sql.INSERT_WORKSPACE, {"slug": r["slug"], "name": r["name"],
                                                               "timezone": r["timezone"],
                                                               "now": r["created_at"]})[0][0]
            restored[r["id"]] = Workspace(new_id, r["slug"], r["name"], r["timezone"])
    return restored


def _restore_rows(tx: Transaction, table: str, path: Path, workspaces: dict[int, Workspace]) -> None:
    for rows in _read_rows(path, table):
        if table == "label_studio_annotations":
            for workspace_id, group in groupby(rows, key=lambda r: r["workspace_id"]):
                tx.stage("stage_ls_annotations", connectors_sql.STAGE_LS_ANNOTATIONS,
                         [tuple(r[c] for c, _ in connectors_sql.STAGE_LS_ANNOTATIONS) for r in group])
                tx.execute(connectors_sql.UPSERT_LS_ANNOTATIONS, {"workspace_id": workspaces[workspace_id].id})
            continue
        for r in rows:
            ws = workspaces[r["workspace_id"]].id
            if table == "api_keys":
                tx.execute(tenancy_sql.INSERT_KEY, {"id": r["id"], "workspace_id": ws, "key_hash": r["key_hash"],
                                                    "scopes": r["scopes"], "now": r["created_at"]})
                if r["revoked_at"] is not None:
                    tx.execute(tenancy_sql.REVOKE_KEY, {"id": r["id"], "now": r["revoked_at"]})
            elif table == "projects":
                tx.execute(tenancy_sql.UPSERT_PROJECT, {"workspace_id": ws, "slug": r["slug"],
                                                        "name": r["name"], "type": r["type"]})
            elif table == "labelers":
                tx.execute(tenancy_sql.UPSERT_LABELER, {"workspace_id": ws, "id": r["id"],
                                                        "display_name": r["display_name"],
                                                        "email": r["email"], "is_system": r["is_system"]})
            else:
                tx.execute(connectors_sql.UPSERT_IMPORT_CHECKPOINT, {"workspace_id": ws, "source": r["source"],
                                                                     "rows_done": r["rows_done"],
                                                                     "now": r["updated_at"]})
