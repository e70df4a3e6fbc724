"""The versioned schema, shared by DuckDB and PostgreSQL.

Every table is keyed by `workspace_id` first so a deployment can later distribute the
store by workspace. Raw events are kept for audit and rebuilds; stats queries read only
the rollups (`sessions`, `session_images`, `session_annotations`, `review_days`), which
ingest maintains, so a query costs what its answer needs rather than a rescan of history.
"""

from __future__ import annotations

from annotation_insights.store.queries.batch import ANNOTATION_KEY, IMAGE_KEY
from annotation_insights.store.queries.ingest import (
    CREATE_IMAGE_FACT_DAYS, CREATE_IMAGE_FACT_DAYS_FUNCTION, CREATE_IMAGE_FACT_DAYS_TRIGGERS,
    EARLIER_FACTS, FILL_IMAGE_FACT_DAYS, IMAGE_FLAGS, NEW_PRIORS, SET_PRIORS)

Statement = str | tuple[str, str]  # plain SQL, or (dialect name, SQL) for one backend only
# `{unique_text}` marks a text column whose value differs on nearly every row; each
# dialect says how to store it (`dialect.py`). A DuckDB store created before the mark
# keeps DuckDB's default: a column's compression cannot change in place, and rewriting
# every event to change it would cost an upgrade minutes for a few percent of the speed
# of later imports.

# `ANNOTATION_KEY` as PostgreSQL computes it: DuckDB's `md5_number` reads the digest's
# bytes as a little-endian number, whose low 63 bits are the first eight bytes reversed.
_POSTGRESQL_ANNOTATION_KEY = (
    "(SELECT ('x' || " + " || ".join(f"substr(h, {at}, 2)" for at in range(15, 0, -2))
    + ")::bit(64)::bigint & 9223372036854775807 FROM (SELECT md5(annotation) AS h) AS digest)")

_SESSION_COLUMNS = """
            workspace_id INTEGER NOT NULL,
            session_key UUID NOT NULL,
            project TEXT NOT NULL,
            labeler TEXT NOT NULL,
            explicit BOOLEAN NOT NULL,
            first_time_us BIGINT NOT NULL,
            session_date DATE NOT NULL,
            boxes_added BIGINT NOT NULL,
            boxes_removed BIGINT NOT NULL,
            boxes_updated BIGINT NOT NULL,
            net_boxes_added BIGINT NOT NULL,
            images_labeled BIGINT NOT NULL,
            marked_null BIGINT NOT NULL,
            model_assisted BIGINT NOT NULL"""
_REVIEW_DAY_COLUMNS = """
            workspace_id INTEGER NOT NULL,
            project TEXT NOT NULL,
            labeler TEXT NOT NULL,
            review_date DATE NOT NULL,
            approved BIGINT NOT NULL,
            rejected BIGINT NOT NULL"""


def _unkeyed(table: str, columns: str, order: str) -> list[Statement]:
    """DuckDB's copy of a table without its primary key (which DuckDB cannot drop), its
    rows in `order`."""
    return [("duckdb", f"CREATE TABLE unkeyed_{table} ({columns})"),
            ("duckdb", f"INSERT INTO unkeyed_{table} SELECT * FROM {table} ORDER BY {order}"),
            ("duckdb", f"DROP TABLE {table}"),
            ("duckdb", f"ALTER TABLE unkeyed_{table} RENAME TO {table}")]


MIGRATIONS: list[tuple[int, list[Statement]]] = [
    (1, [
        "CREATE SEQUENCE workspace_ids START 1",
        """CREATE TABLE workspaces (
            id INTEGER PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            timezone TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            workspace_id INTEGER NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP)""",
        """CREATE TABLE projects (
            workspace_id INTEGER NOT NULL,
            slug TEXT NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            PRIMARY KEY (workspace_id, slug))""",
        """CREATE TABLE labelers (
            workspace_id INTEGER NOT NULL,
            id TEXT NOT NULL,
            display_name TEXT NOT NULL,
            email TEXT,
            is_system BOOLEAN NOT NULL,
            PRIMARY KEY (workspace_id, id))""",
        """CREATE TABLE events (
            workspace_id INTEGER NOT NULL,
            key_hi BIGINT NOT NULL,
            key_lo BIGINT NOT NULL,
            event_id TEXT NOT NULL {unique_text},
            type TEXT NOT NULL,
            time_us BIGINT NOT NULL,
            project TEXT NOT NULL,
            image TEXT NOT NULL,
            labeler TEXT NOT NULL,
            annotation TEXT {unique_text},
            session TEXT,
            model_assisted BOOLEAN,
            reviewer TEXT,
            class TEXT)""",
        # One row per event id. PostgreSQL enforces it with this index (several processes
        # write); DuckDB's single writer checks an in-memory key set instead, because
        # maintaining an index of random keys costs more than the rest of ingest.
        ("postgresql", "CREATE UNIQUE INDEX events_identity ON events (workspace_id, key_hi, key_lo)"),
        f"""CREATE TABLE sessions ({_SESSION_COLUMNS},
            PRIMARY KEY (workspace_id, session_key))""",
        """CREATE TABLE session_images (
            workspace_id INTEGER NOT NULL,
            session_key UUID NOT NULL,
            image TEXT NOT NULL,
            project TEXT NOT NULL,
            labeler TEXT NOT NULL,
            session_date DATE NOT NULL,
            labeled BOOLEAN NOT NULL,
            marked_null BOOLEAN NOT NULL,
            model_assisted BOOLEAN NOT NULL)""",
        """CREATE TABLE session_annotations (
            workspace_id INTEGER NOT NULL,
            session_key UUID NOT NULL,
            annotation TEXT NOT NULL {unique_text},
            session_date DATE NOT NULL,
            created BOOLEAN NOT NULL,
            deleted BOOLEAN NOT NULL)""",
        f"""CREATE TABLE review_days ({_REVIEW_DAY_COLUMNS},
            PRIMARY KEY (workspace_id, project, labeler, review_date))""",
        # The two large fact tables are merged by date-bounded joins (see queries/ingest.py):
        # DuckDB prunes those by zone maps, PostgreSQL by these keys.
        ("postgresql", "ALTER TABLE session_images ADD PRIMARY KEY (workspace_id, session_key, image)"),
        ("postgresql", "ALTER TABLE session_annotations "
                       "ADD PRIMARY KEY (workspace_id, session_key, annotation)"),
        # DuckDB prunes date ranges with zone maps on its own; PostgreSQL needs indexes.
        ("postgresql", "CREATE INDEX sessions_by_date ON sessions (workspace_id, session_date)"),
        ("postgresql", "CREATE INDEX session_images_by_date "
                       "ON session_images (workspace_id, session_date)"),
        ("postgresql", "CREATE INDEX review_days_by_date ON review_days (workspace_id, review_date)"),
    ]),
    # Connectors. Label Studio sends an annotation's whole new `result`, never the old one,
    # so the last version seen of each annotation's regions is kept to diff against; file
    # and tool-export imports record how far they got so an interrupted import resumes.
    (2, [
        """CREATE TABLE label_studio_annotations (
            workspace_id INTEGER NOT NULL,
            project TEXT NOT NULL,
            annotation_id TEXT NOT NULL,
            unique_id TEXT,
            image TEXT NOT NULL,
            labeler TEXT NOT NULL,
            version_us BIGINT NOT NULL,
            regions TEXT NOT NULL,
            deleted BOOLEAN NOT NULL,
            PRIMARY KEY (workspace_id, project, annotation_id))""",
        """CREATE TABLE import_checkpoints (
            workspace_id INTEGER NOT NULL,
            source TEXT NOT NULL,
            rows_done BIGINT NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace_id, source))""",
    ]),
    # An event's identity is its id: PostgreSQL's unique index holds the ids themselves,
    # and DuckDB's writer hashes them when it loads its key set, so the stored 128-bit
    # hash columns (16 bytes an event, a quarter of the store) are gone.
    (3, [
        ("postgresql", "DROP INDEX events_identity"),
        ("postgresql", "CREATE UNIQUE INDEX events_identity ON events (workspace_id, event_id)"),
        "ALTER TABLE events DROP COLUMN key_hi",
        "ALTER TABLE events DROP COLUMN key_lo",
        # DuckDB acknowledges a batch once its events are stored and applies the rollups
        # of many batches at once (events/backlog.py); this lists what is not applied yet.
        ("duckdb", """CREATE TABLE rollup_backlog (
            batch_no BIGINT NOT NULL,
            workspace_id INTEGER NOT NULL,
            event_id TEXT NOT NULL)"""),
    ]),
    # Distinct images over a date range (the workspace totals) are counted by a number
    # per (project, image) instead of by the two texts: a third of the time of a 90-day
    # answer at 10M events. Existing rollups are numbered in place.
    (4, [
        """CREATE TABLE images (
            workspace_id INTEGER NOT NULL,
            project TEXT NOT NULL,
            image TEXT NOT NULL,
            image_no BIGINT NOT NULL)""",
        ("postgresql", "ALTER TABLE images ADD PRIMARY KEY (workspace_id, project, image)"),
        "ALTER TABLE session_images ADD COLUMN image_no BIGINT",
        """INSERT INTO images (workspace_id, project, image, image_no)
           SELECT workspace_id, project, image,
                  row_number() OVER (PARTITION BY workspace_id ORDER BY project, image)
           FROM (SELECT DISTINCT workspace_id, project, image FROM session_images) AS seen""",
        """UPDATE session_images SET image_no = i.image_no FROM images i
           WHERE i.workspace_id = session_images.workspace_id
             AND i.project = session_images.project AND i.image = session_images.image""",
    ]),
    # Images are counted by a key computed from (project, image) instead of a number
    # assigned on first sight: numbering looked up every stored image for each batch,
    # which grew with the workspace's history (0.18 µs an event of a 10M import's writer).
    (5, [
        "ALTER TABLE session_images ADD COLUMN image_key UUID",
        f"UPDATE session_images SET image_key = CAST({IMAGE_KEY} AS UUID)",
        "ALTER TABLE session_images DROP COLUMN image_no",
        "DROP TABLE images",
    ]),
    # DuckDB's backlog is marked on the events themselves: each event stored without its
    # rollups carries the number of its batch, and one row says through which number the
    # rollups are applied. Listing every such event's id in a table of its own cost a
    # second insert per batch and a delete per catch-up: a tenth of the writer's time under
    # HTTP ingest.
    (6, [
        ("duckdb", "ALTER TABLE events ADD COLUMN backlog_batch BIGINT"),
        ("duckdb", "CREATE TABLE rollup_progress (applied_through BIGINT NOT NULL)"),
        ("duckdb", """INSERT INTO rollup_progress (applied_through)
           SELECT coalesce(min(batch_no) - 1, 0) FROM rollup_backlog"""),
        ("duckdb", """UPDATE events SET backlog_batch = b.batch_no FROM rollup_backlog b
           WHERE events.workspace_id = b.workspace_id AND events.event_id = b.event_id"""),
        ("duckdb", "DROP TABLE rollup_backlog"),
    ]),
    # A (session, annotation) fact is keyed by a number computed from the annotation's id
    # (`ANNOTATION_KEY`) instead of the id's text. PostgreSQL keys the stored facts in
    # place; DuckDB, which cannot constrain a column it has just updated, copies them.
    (7, [
        ("postgresql", "ALTER TABLE session_annotations ADD COLUMN annotation_key BIGINT"),
        ("postgresql", f"UPDATE session_annotations SET annotation_key = {_POSTGRESQL_ANNOTATION_KEY}"),
        ("postgresql", "ALTER TABLE session_annotations DROP COLUMN annotation"),  # and its key
        ("postgresql", "ALTER TABLE session_annotations ALTER COLUMN annotation_key SET NOT NULL"),
        ("postgresql", "ALTER TABLE session_annotations "
                       "ADD PRIMARY KEY (workspace_id, session_key, annotation_key)"),
        ("duckdb", """CREATE TABLE keyed_session_annotations (
            workspace_id INTEGER NOT NULL,
            session_key UUID NOT NULL,
            annotation_key BIGINT NOT NULL,
            session_date DATE NOT NULL,
            created BOOLEAN NOT NULL,
            deleted BOOLEAN NOT NULL)"""),
        ("duckdb", f"""INSERT INTO keyed_session_annotations
           SELECT workspace_id, session_key, {ANNOTATION_KEY}, session_date, created, deleted
           FROM session_annotations ORDER BY workspace_id, session_date, session_key"""),
        ("duckdb", "DROP TABLE session_annotations"),
        ("duckdb", "ALTER TABLE keyed_session_annotations RENAME TO session_annotations"),
    ]),
    # Each (session, image) fact holds the date of its image's latest fact before it with
    # each flag (queries/ingest.py: UPDATE_IMAGE_PRIORS), by which a range's distinct
    # images are counted without grouping by image. PostgreSQL finds an image's facts by
    # an index; DuckDB reads the image keys of the whole table at each batch.
    (8, [
        *(f"ALTER TABLE session_images ADD COLUMN prior_{flag} DATE" for flag in IMAGE_FLAGS),
        f"""UPDATE session_images SET {SET_PRIORS}
           FROM (SELECT workspace_id, session_key, image, {NEW_PRIORS}
                 FROM session_images WINDOW {EARLIER_FACTS}) p
           WHERE session_images.workspace_id = p.workspace_id
             AND session_images.session_key = p.session_key AND session_images.image = p.image""",
        ("postgresql", "CREATE INDEX session_images_by_image ON session_images (workspace_id, image_key)"),
    ]),
    # PostgreSQL answers a range from rows it finds by index: a range's distinct images
    # from the counts of its facts by day (queries/ingest.py: `image_fact_days`, filled
    # here from the stored facts, then kept by triggers), and one labeler's or project's
    # answer from its own rows rather than every row of the range filtered (a labeler's
    # 90 days at 10M events read 340,000 facts for 1,000).
    (9, [
        ("postgresql", CREATE_IMAGE_FACT_DAYS),
        ("postgresql", FILL_IMAGE_FACT_DAYS),
        ("postgresql", CREATE_IMAGE_FACT_DAYS_FUNCTION),
        *(("postgresql", trigger) for trigger in CREATE_IMAGE_FACT_DAYS_TRIGGERS),
        ("postgresql", "CREATE INDEX sessions_by_labeler ON sessions (workspace_id, labeler, session_date)"),
        ("postgresql", "CREATE INDEX sessions_by_project ON sessions (workspace_id, project, session_date)"),
        ("postgresql", "CREATE INDEX review_days_by_labeler ON review_days (workspace_id, labeler, review_date)"),
        ("postgresql", "CREATE INDEX session_images_by_labeler "
                       "ON session_images (workspace_id, labeler, session_date)"),
    ]),
    # DuckDB keeps no index of the sessions' and review days' keys: its one writer merges
    # them by an update and an insert of the keys not stored yet (queries/ingest.py), as
    # it tells stored events by its key set. Each index held ~60 bytes a key in the file
    # (in a store of 1M events by 800 labelers, 14 of its 64 bytes an event) and in
    # memory, and every checkpoint wrote it again. PostgreSQL keeps its keys: several
    # processes write, and its merges find rows by them.
    (10, [
        *_unkeyed("sessions", _SESSION_COLUMNS, "workspace_id, session_date"),
        *_unkeyed("review_days", _REVIEW_DAY_COLUMNS, "workspace_id, review_date"),
    ]),
]

LATEST_VERSION = MIGRATIONS[-1][0]
