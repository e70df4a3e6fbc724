"""Every SQL statement the product runs, with bound `:name` parameters only.

Optional filters are written as `(CAST(:x AS TEXT) IS NULL OR col = :x)` so one text
serves every combination of filters on both backends.
"""

# --- tenancy -------------------------------------------------------------------------

INSERT_WORKSPACE = """
INSERT INTO workspaces (id, slug, name, timezone, created_at)
VALUES (nextval('workspace_ids'), :slug, :name, :timezone, :now)
RETURNING id"""

WORKSPACE_COLUMNS = ("id", "slug", "name", "timezone")
SELECT_WORKSPACE_BY_SLUG = "SELECT id, slug, name, timezone FROM workspaces WHERE slug = :slug"
SELECT_WORKSPACE_BY_ID = "SELECT id, slug, name, timezone FROM workspaces WHERE id = :id"
SELECT_WORKSPACES = "SELECT id, slug, name, timezone FROM workspaces ORDER BY slug"

INSERT_KEY = """
INSERT INTO api_keys (id, workspace_id, key_hash, scopes, created_at)
VALUES (:id, :workspace_id, :key_hash, :scopes, :now)"""

SELECT_KEY_BY_HASH = """
SELECT k.id, k.key_hash, k.scopes, k.revoked_at, w.id, w.slug, w.name, w.timezone
FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
WHERE k.key_hash = :key_hash"""

SELECT_KEYS_BY_ID_PREFIX = """
SELECT k.id, w.slug, k.revoked_at FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
WHERE starts_with(k.id, :prefix) ORDER BY k.id"""

REVOKE_KEY = "UPDATE api_keys SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL"

EVENTS_PER_WORKSPACE = """
SELECT w.slug, count(e.event_id) FROM workspaces w LEFT JOIN events e ON e.workspace_id = w.id
GROUP BY w.slug ORDER BY w.slug"""

SELECT_KEYS_OF_WORKSPACE = """
SELECT id, scopes, created_at, revoked_at FROM api_keys WHERE workspace_id = :workspace_id
ORDER BY created_at, id"""

# --- reference data ------------------------------------------------------------------

UPSERT_PROJECT = """
INSERT INTO projects (workspace_id, slug, name, type) VALUES (:workspace_id, :slug, :name, :type)
ON CONFLICT (workspace_id, slug) DO UPDATE SET name = excluded.name, type = excluded.type"""

UPSERT_LABELER = """
INSERT INTO labelers (workspace_id, id, display_name, email, is_system)
VALUES (:workspace_id, :id, :display_name, :email, :is_system)
ON CONFLICT (workspace_id, id) DO UPDATE SET display_name = excluded.display_name,
    email = excluded.email, is_system = excluded.is_system"""

SELECT_PROJECT = "SELECT slug, name, type FROM projects WHERE workspace_id = :workspace_id AND slug = :slug"
SELECT_PROJECTS = "SELECT slug, name, type FROM projects WHERE workspace_id = :workspace_id ORDER BY slug"
SELECT_LABELERS = """
SELECT id, display_name, email, is_system FROM labelers WHERE workspace_id = :workspace_id ORDER BY id"""
SELECT_LABELER = """
SELECT id, display_name, email, is_system FROM labelers WHERE workspace_id = :workspace_id AND id = :id"""

# Placeholders for projects and labelers first seen in new events (SPEC §3).
STAGE_NAMES = (("project", "TEXT"), ("labeler", "TEXT"))

INSERT_PLACEHOLDER_PROJECTS = """
INSERT INTO projects (workspace_id, slug, name, type)
SELECT DISTINCT :workspace_id, project, project, 'object-detection' FROM stage_names
ON CONFLICT (workspace_id, slug) DO NOTHING"""

INSERT_PLACEHOLDER_LABELERS = """
INSERT INTO labelers (workspace_id, id, display_name, email, is_system)
SELECT DISTINCT :workspace_id, labeler, labeler, CAST(NULL AS TEXT), FALSE FROM stage_names
ON CONFLICT (workspace_id, id) DO NOTHING"""

# --- ingest: the batch engine (events/engine.py, an in-process DuckDB) ---------------
# These statements run on one batch's Arrow columns, never on the store, whatever the
# backend. They mirror `events/schema.py` and are only allowed to be stricter than it:
# a batch with any row they do not accept is validated again, event by event, by the
# Python validator, which then decides and words the errors.

ENGINE_MACROS = (
    "CREATE MACRO sized(x, n) AS length(x) BETWEEN 1 AND n",
    # RFC 3339 with an offset. DuckDB's own parser reads every such text the way Python
    # does (fractions beyond microseconds are cut) but also accepts hour 24 and offsets
    # past 23:59, which the pattern excludes first; lower-case `t`/`z` it cannot read.
    r"""CREATE MACRO rfc3339_us(t) AS CASE
        WHEN regexp_full_match(t, '\d{4}-\d{2}-\d{2}[Tt ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)')
         AND NOT starts_with(t, '0000') THEN epoch_us(try_cast(t AS TIMESTAMPTZ)) END""",
)

# An event id's 128-bit identity (`id_hash`, its MD5) as two unsigned 64-bit halves.
_ID_HALVES = """CAST(id_hash >> 64 AS UBIGINT) AS key_hi,
       CAST(id_hash & CAST(18446744073709551615 AS UHUGEINT) AS UBIGINT) AS key_lo"""

# Input `raw_events`: the SPEC §3 fields as text (`modelAssisted` boolean), and `time_us`
# where the source already holds a timestamp or `events/batch.py` read the times (all
# written in one plain UTC shape). Output, row for row: `ok`, the instant, and
# the event id's 128-bit identity as two unsigned halves (the other columns are taken
# from the input as they are). Checked in `events/batch.py` instead, far cheaper than a
# pattern per value: control characters, in the raw bytes of the text columns; the
# project and the type, which take a few values a batch, by each distinct value.
VALIDATE_EVENTS = f"""
SELECT coalesce(sized(id, 128) AND time_us BETWEEN :earliest_us AND :latest_us
       AND sized(image, 256) AND sized(labeler, 256)
       AND CASE WHEN annotation IS NULL THEN NOT starts_with(type, 'annotation.')
                ELSE sized(annotation, 256) END
       AND (session IS NULL OR sized(session, 256))
       AND (reviewer IS NULL OR sized(reviewer, 256))
       AND ("class" IS NULL OR sized("class", 256)),
       FALSE) AS ok,
       time_us,
       {_ID_HALVES}
FROM (SELECT * REPLACE (coalesce(time_us, rfc3339_us("time")) AS time_us),
             md5_number(id) AS id_hash
      FROM raw_events)"""

# Input `ndjson_lines`: a block of NDJSON, one line a row (`line`). Output, row for row:
# the SPEC §3 text fields as DuckDB's JSON reader reads them, and `modelAssisted` as its
# JSON text (`:fields` names the types). The reader is lenient where the line-by-line
# parser is strict, so `events/ndjson.py` only takes these columns for a block whose
# bytes and counts rule every difference out.
NDJSON_FIELDS = """
SELECT j.* FROM (SELECT json_transform(line, :fields) AS j FROM ndjson_lines)"""

# Events already validated by Python need only their identity.
EVENT_ID_KEYS = f"""
SELECT {_ID_HALVES}
FROM (SELECT md5_number(event_id) AS id_hash FROM batch_events)"""

# SPEC §4: a batch's sessions, each as the parts of its key (metrics/definitions.py
# hashes them) with what the batch tells of it: the local date and instant of its earliest
# event, its box counts, and the rows of its events, by which each event gets its
# session's number in the batch (joining the events back on the parts cost twice as
# much). Input `batch_events`: a batch's columns plus each event's `local_date` and `row`.
_LABELING = "type NOT IN ('image.approved', 'image.rejected')"

SESSION_PARTS = f"""
SELECT project, labeler, session, CASE WHEN session IS NULL THEN local_date END AS day,
       arg_min(local_date, time_us) AS session_date, min(time_us) AS first_time_us,
       count(*) FILTER (WHERE type = 'annotation.created') AS boxes_added,
       count(*) FILTER (WHERE type = 'annotation.deleted') AS boxes_removed,
       count(*) FILTER (WHERE type = 'annotation.updated') AS boxes_updated,
       list("row") AS rows
FROM batch_events WHERE {_LABELING}
GROUP BY project, labeler, session, day"""

# A (project, image)'s identity in the fact tables, by which the distinct-image totals
# count: 128 bits (32 hex digits, stored as a UUID), so distinct keys are distinct
# images; computed from the pair alone, the same on every backend, so storing a fact
# needs no lookup of the images seen before.
IMAGE_KEY = "md5(project || chr(31) || image)"

# Each session's distinct counts in the batch, from its (session, image) and (session,
# annotation) facts: a new session is stored with them.
_BATCH_SESSION_COUNTS = """SELECT i.part, i.images_labeled, i.marked_null, i.model_assisted,
       coalesce(a.net_boxes_added, 0) AS net_boxes_added
FROM (SELECT part,
             count(*) FILTER (WHERE labeled) AS images_labeled,
             count(*) FILTER (WHERE marked_null) AS marked_null,
             count(*) FILTER (WHERE model_assisted) AS model_assisted
      FROM fact_images GROUP BY part) i
LEFT JOIN (SELECT part, count(*) FILTER (WHERE created AND NOT deleted) AS net_boxes_added
           FROM fact_annotations GROUP BY part) a ON a.part = i.part"""

# SPEC §5's per-session counts start from these facts of each (session, image) and
# (session, annotation); the store keeps them, and a batch changes a stored session's
# counts by what it sets in its facts (ADD_SESSION_COUNT_CHANGES). Each fact carries its
# session's date in this batch, which is the stored date when the session is new. The
# facts read `keyed_events`, the batch's events each with its session's number `part`
# (none for a review), group by that number and take the session's date and names from
# `parts` (SESSION_PARTS' rows, numbered) afterwards: grouping by the key's text and the
# names made them a fifth dearer (metrics/definitions.py adds the key). FACT_SESSIONS
# reads `parts` and the batch's facts as `fact_images` and `fact_annotations`.
FACT_SESSIONS = f"""
SELECT p.part, p.project, p.labeler, p.session IS NOT NULL AS explicit, p.first_time_us,
       p.session_date, p.boxes_added, p.boxes_removed, p.boxes_updated, c.net_boxes_added,
       c.images_labeled, c.marked_null, c.model_assisted
FROM parts p
JOIN ({_BATCH_SESSION_COUNTS}) c
  ON c.part = p.part"""

FACT_SESSION_IMAGES = f"""
SELECT f.part, f.image, p.project, p.labeler, {IMAGE_KEY} AS image_key, f.labeled,
       f.marked_null, f.model_assisted, p.session_date
FROM (SELECT part, image,
             bool_or(starts_with(type, 'annotation.') OR type = 'image.marked_null') AS labeled,
             bool_or(type = 'image.marked_null') AS marked_null,
             bool_or(type = 'image.model_assisted'
                     OR (type = 'annotation.created' AND coalesce(model_assisted, FALSE)))
                 AS model_assisted
      FROM keyed_events WHERE part IS NOT NULL GROUP BY part, image) f
JOIN parts p ON p.part = f.part"""

FACT_SESSION_ANNOTATIONS = """
SELECT f.part, f.annotation, f.created, f.deleted, p.session_date
FROM (SELECT part, annotation, bool_or(type = 'annotation.created') AS created,
             bool_or(type = 'annotation.deleted') AS deleted
      FROM keyed_events WHERE starts_with(type, 'annotation.') GROUP BY part, annotation) f
JOIN parts p ON p.part = f.part"""

FACT_REVIEW_DAYS = """
SELECT project, labeler, local_date AS review_date,
       count(*) FILTER (WHERE type = 'image.approved') AS approved,
       count(*) FILTER (WHERE type = 'image.rejected') AS rejected
FROM batch_events WHERE type IN ('image.approved', 'image.rejected')
GROUP BY project, labeler, local_date"""

# --- ingest --------------------------------------------------------------------------

STAGE_EVENTS = (
    ("event_id", "TEXT"), ("type", "TEXT"), ("time_us", "BIGINT"), ("project", "TEXT"),
    ("image", "TEXT"), ("labeler", "TEXT"), ("annotation", "TEXT"), ("session", "TEXT"),
    ("model_assisted", "BOOLEAN"), ("reviewer", "TEXT"), ("class", "TEXT"))

_INSERT_STAGED_EVENTS = """
INSERT INTO events (workspace_id, event_id, type, time_us, project, image, labeler, annotation,
                    session, model_assisted, reviewer, class{backlog})
SELECT :workspace_id, event_id, type, time_us, project, image, labeler, annotation, session,
       model_assisted, reviewer, class{backlog_value}
FROM stage_events"""

# DuckDB: staged events are all new (the writer checked its key set first). Each carries
# its rollup backlog batch's number, or none when its rollups are applied with it.
INSERT_EVENTS = _INSERT_STAGED_EVENTS.format(backlog=", backlog_batch", backlog_value=", :backlog_batch")

# Concurrent writers: the unique index decides which events are new.
INSERT_NEW_EVENTS = _INSERT_STAGED_EVENTS.format(backlog="", backlog_value="") + """
ON CONFLICT (workspace_id, event_id) DO NOTHING
RETURNING event_id"""

# DuckDB's writer loads the identities of a workspace's stored events into memory once.
SELECT_EVENT_KEYS = f"""
SELECT {_ID_HALVES}
FROM (SELECT md5_number(event_id) AS id_hash FROM events WHERE workspace_id = :workspace_id)"""

# DuckDB's rollup backlog (events/backlog.py): the events of acknowledged batches whose
# rollups are not applied yet are those numbered after `rollup_progress`. The process that
# wrote them holds them in memory; a later process reads them back once, at start (the
# numbers grow as events are appended, so zone maps skip the rest of the table).
SELECT_APPLIED_THROUGH = "SELECT applied_through FROM rollup_progress"

SELECT_BACKLOG = """
SELECT backlog_batch, workspace_id, event_id, type, time_us, project, image, labeler, annotation,
       session, model_assisted, reviewer, class
FROM events WHERE backlog_batch > :applied_through
ORDER BY backlog_batch"""

MARK_BACKLOG_APPLIED = "UPDATE rollup_progress SET applied_through = :upto"

STAGE_SESSIONS = (
    ("session_key", "UUID"), ("project", "TEXT"), ("labeler", "TEXT"), ("explicit", "BOOLEAN"),
    ("first_time_us", "BIGINT"), ("session_date", "DATE"), ("boxes_added", "BIGINT"),
    ("boxes_removed", "BIGINT"), ("boxes_updated", "BIGINT"), ("net_boxes_added", "BIGINT"),
    ("images_labeled", "BIGINT"), ("marked_null", "BIGINT"), ("model_assisted", "BIGINT"),
    ("part", "INTEGER"))

# SPEC §4: a session's date is the local date of its earliest event, so a stored session
# takes a batch's date only if the batch holds an event earlier than its first.
_MERGED_SESSION_DATE = """CASE WHEN {batch}.first_time_us < {stored}.first_time_us
                        THEN {batch}.session_date ELSE {stored}.session_date END"""

# A stored session adds the batch's box counts and keeps its distinct counts here
# (ADD_SESSION_COUNT_CHANGES changes them by what its facts changed); a new session is
# stored with the counts of its facts in the batch. An update and an insert rather than
# one `INSERT … ON CONFLICT DO UPDATE`, which DuckDB ran four times slower where a
# block's sessions were nearly all stored (1M events imported in random order: 2.15
# against 0.50 s over its five blocks); the workspace's writer is serialised, so no
# session is inserted in between.
MERGE_SESSIONS = (f"""
UPDATE sessions AS s SET boxes_added = s.boxes_added + st.boxes_added,
    boxes_removed = s.boxes_removed + st.boxes_removed,
    boxes_updated = s.boxes_updated + st.boxes_updated,
    session_date = {_MERGED_SESSION_DATE.format(batch="st", stored="s")},
    first_time_us = least(s.first_time_us, st.first_time_us)
FROM stage_sessions st
WHERE s.workspace_id = :workspace_id AND s.session_key = CAST(st.session_key AS UUID)""", """
INSERT INTO sessions (workspace_id, session_key, project, labeler, explicit, first_time_us,
    session_date, boxes_added, boxes_removed, boxes_updated, net_boxes_added, images_labeled,
    marked_null, model_assisted)
SELECT :workspace_id, CAST(session_key AS UUID), project, labeler, explicit, first_time_us,
       session_date, boxes_added, boxes_removed, boxes_updated, net_boxes_added, images_labeled,
       marked_null, model_assisted
FROM stage_sessions st
WHERE NOT EXISTS (SELECT 1 FROM sessions s
                  WHERE s.workspace_id = :workspace_id AND s.session_key = CAST(st.session_key AS UUID))""")

# The staged sessions stored before this batch, read before MERGE_SESSIONS: each one's
# number in the batch, key, date, and date once merged. Only their facts need merging,
# and an explicit one may move to an earlier date (an earlier event came late). Asking
# for these few, rather than having the upsert return every session it wrote, spared
# the writer converting each session to Python (~0.3 s of a 1M-event import). The key
# comes as text, 32 hex digits (both backends print a UUID with dashes).
SELECT_STORED_SESSIONS = f"""
SELECT st.part, replace(CAST(s.session_key AS TEXT), '-', ''), s.session_date,
       {_MERGED_SESSION_DATE.format(batch="st", stored="s")}
FROM sessions s JOIN stage_sessions st ON s.session_key = CAST(st.session_key AS UUID)
WHERE s.workspace_id = :workspace_id"""

# The dates of the sessions a batch touched that were stored before it, as stored after
# the sessions were merged: their facts are dated by these, not by the batch's dates.
STAGE_SESSION_DATES = (("session_key", "UUID"), ("session_date", "DATE"))

# Facts as staged: each with its date in the batch and whether its session was stored
# before the batch (`known`).
STAGE_SESSION_IMAGES = (
    ("session_key", "UUID"), ("image", "TEXT"), ("project", "TEXT"), ("labeler", "TEXT"),
    ("image_key", "UUID"), ("labeled", "BOOLEAN"), ("marked_null", "BOOLEAN"),
    ("model_assisted", "BOOLEAN"), ("session_date", "DATE"), ("known", "BOOLEAN"))

STAGE_SESSION_ANNOTATIONS = (
    ("session_key", "UUID"), ("annotation", "TEXT"), ("created", "BOOLEAN"), ("deleted", "BOOLEAN"),
    ("session_date", "DATE"), ("known", "BOOLEAN"))

# The facts of known sessions are merged so that the stored facts are read once per fact
# table: LOOKUP_* stages each such fact with what is stored of it (whether it is, where,
# and its flags) as `known_<table>`, MERGE_* updates the stored facts whose flags the
# batch sets and inserts the others, and ADD_SESSION_COUNT_CHANGES changes the sessions'
# distinct counts by what the merge changed. The lookups join only within the touched
# sessions' dates (DuckDB skips the rest of a table by its zone maps; PostgreSQL finds
# facts by their keys). With the workspace's writer serialised this is a correct upsert,
# without an index of every (session, image) and (session, annotation) ever seen.
# Recounting the touched sessions from all their facts instead read every fact of every
# such session: when events arrive out of time order, nearly the whole table at each
# catch-up. Each statement comes in two forms, by `Dialect.merges_by_row_number`: DuckDB's
# update finds the facts its lookup found by their row numbers (`rowid`, stable while the
# writer's transaction lasts), reading the table's dates but not its keys (a catch-up of
# 237,292 events in random order into 8M (session, annotation) facts: 0.06 s against
# 0.23-0.28 s by key); PostgreSQL has no row number a join can use, and finds them by
# key through its primary key.
_STORED = """{alias}.workspace_id = :workspace_id
  AND {alias}.session_date BETWEEN :first_date AND :last_date
  AND {alias}.session_key = {key} AND {alias}.{item} = {staged}.{item}"""

_IMAGE_FLAGS = ("labeled", "marked_null", "model_assisted")
_ANNOTATION_FLAGS = ("created", "deleted")


def _lookup(table: str, alias: str, item: str, columns: str, flags: tuple[str, ...],
            by_row: bool) -> str:
    was = ",\n       ".join(f"coalesce({alias}.{flag}, FALSE) AS was_{flag}" for flag in flags)
    return f"""
SELECT CAST(f.session_key AS UUID) AS session_key, {columns}, d.session_date,
       {", ".join(f"f.{flag}" for flag in flags)}, {alias}.{item} IS NOT NULL AS stored,
       {f"{alias}.rowid" if by_row else "CAST(NULL AS BIGINT)"} AS stored_row,
       {was}
FROM stage_{table} f
JOIN stage_session_dates d ON CAST(d.session_key AS UUID) = CAST(f.session_key AS UUID)
LEFT JOIN {table} {alias}
  ON {_STORED.format(alias=alias, key="CAST(f.session_key AS UUID)", item=item, staged="f")}
WHERE f.known"""


def _update(table: str, alias: str, item: str, flags: tuple[str, ...], by_row: bool) -> str:
    found = (f"""{alias}.rowid = s.stored_row AND {alias}.workspace_id = :workspace_id
  AND {alias}.session_date BETWEEN :first_date AND :last_date""" if by_row
             else _STORED.format(alias=alias, key="s.session_key", item=item, staged="s"))
    return f"""
UPDATE {table} AS {alias} SET {", ".join(f"{flag} = s.{flag} OR s.was_{flag}" for flag in flags)}
FROM known_{table} s
WHERE s.stored AND ({" OR ".join(f"(s.{flag} AND NOT s.was_{flag})" for flag in flags)})
  AND {found}"""


_IMAGE_COLUMNS = "f.image, f.project, f.labeler, CAST(f.image_key AS UUID) AS image_key"

# A lookup's facts come out of its join in no order; stored with each session's together
# (as a batch's facts are, metrics/definitions.py) they compress far better: 1M events
# posted in random order took 63.7 bytes an event on disk unordered, 56.1 ordered.
_NEW_FACTS_IN_ORDER = "\nWHERE NOT s.stored\nORDER BY s.session_date, s.session_key"

LOOKUP_SESSION_IMAGES = {by_row: _lookup("session_images", "si", "image", _IMAGE_COLUMNS,
                                         _IMAGE_FLAGS, by_row) for by_row in (False, True)}
LOOKUP_SESSION_ANNOTATIONS = {by_row: _lookup("session_annotations", "sa", "annotation", "f.annotation",
                                              _ANNOTATION_FLAGS, by_row) for by_row in (False, True)}

_INSERT_SESSION_IMAGES = """
INSERT INTO session_images (workspace_id, session_key, image, project, labeler, session_date,
    labeled, marked_null, model_assisted, image_key)
SELECT :workspace_id, CAST(s.session_key AS UUID), s.image, s.project, s.labeler, s.session_date,
       s.labeled, s.marked_null, s.model_assisted, CAST(s.image_key AS UUID)
FROM {source} s"""

MERGE_SESSION_IMAGES = {by_row: (_update("session_images", "si", "image", _IMAGE_FLAGS, by_row),
                                 _INSERT_SESSION_IMAGES.format(source="known_session_images")
                                 + _NEW_FACTS_IN_ORDER) for by_row in (False, True)}

INSERT_NEW_SESSION_IMAGES = _INSERT_SESSION_IMAGES.format(source="stage_session_images") + """
WHERE NOT s.known"""

_INSERT_SESSION_ANNOTATIONS = """
INSERT INTO session_annotations (workspace_id, session_key, annotation, session_date, created, deleted)
SELECT :workspace_id, CAST(s.session_key AS UUID), s.annotation, s.session_date, s.created, s.deleted
FROM {source} s"""

MERGE_SESSION_ANNOTATIONS = {
    by_row: (_update("session_annotations", "sa", "annotation", _ANNOTATION_FLAGS, by_row),
             _INSERT_SESSION_ANNOTATIONS.format(source="known_session_annotations")
             + _NEW_FACTS_IN_ORDER) for by_row in (False, True)}

INSERT_NEW_SESSION_ANNOTATIONS = _INSERT_SESSION_ANNOTATIONS.format(
    source="stage_session_annotations") + "\nWHERE NOT s.known"

STAGE_MOVED_SESSIONS = (("session_key", "UUID"), ("session_date", "DATE"))

# A late event moved an explicit session to an earlier date; its facts follow it.
MOVE_SESSION_IMAGES = """
UPDATE session_images SET session_date = m.session_date
FROM (SELECT CAST(session_key AS UUID) AS session_key, session_date FROM stage_moved_sessions) m
WHERE session_images.workspace_id = :workspace_id AND session_images.session_key = m.session_key"""

MOVE_SESSION_ANNOTATIONS = """
UPDATE session_annotations SET session_date = m.session_date
FROM (SELECT CAST(session_key AS UUID) AS session_key, session_date FROM stage_moved_sessions) m
WHERE session_annotations.workspace_id = :workspace_id
  AND session_annotations.session_key = m.session_key"""

# SPEC §5's per-session distinct counts of the known sessions, changed by the facts the
# merge set: an image counts once its flag is set, an annotation counts while it is
# created and not deleted. Staged before the update: DuckDB updated `sessions` from this
# query as a subquery in 0.83 s, staged and then from the stage in 0.06 s (53,555
# sessions). DuckDB's form also gives each session's row number and stages them in that
# order, and the update finds them by it: updating the sessions in the order a hash
# table gave them took it 1.07 s a block, late in a 10M import of events in random
# order (78 s in all), and 13 ms in stored order (48 s).
_FLAG_SET = "CAST({flag} AND NOT was_{flag} AS INTEGER)"

_COUNT_CHANGES = f"""
SELECT session_key, sum(images_labeled) AS images_labeled, sum(marked_null) AS marked_null,
       sum(model_assisted) AS model_assisted, sum(net_boxes_added) AS net_boxes_added
FROM (SELECT session_key, {_FLAG_SET.format(flag="labeled")} AS images_labeled,
             {_FLAG_SET.format(flag="marked_null")} AS marked_null,
             {_FLAG_SET.format(flag="model_assisted")} AS model_assisted, 0 AS net_boxes_added
      FROM known_session_images
      UNION ALL
      SELECT session_key, 0, 0, 0,
             CAST((created OR was_created) AND NOT (deleted OR was_deleted) AS INTEGER)
             - CAST(was_created AND NOT was_deleted AS INTEGER)
      FROM known_session_annotations) changes
GROUP BY session_key"""

SESSION_COUNT_CHANGES = {False: _COUNT_CHANGES, True: f"""
SELECT s.rowid AS stored_row, c.*
FROM ({_COUNT_CHANGES}) c
JOIN sessions s ON s.workspace_id = :workspace_id AND s.session_key = c.session_key
ORDER BY stored_row"""}

ADD_SESSION_COUNT_CHANGES = {by_row: f"""
UPDATE sessions SET images_labeled = sessions.images_labeled + c.images_labeled,
    marked_null = sessions.marked_null + c.marked_null,
    model_assisted = sessions.model_assisted + c.model_assisted,
    net_boxes_added = sessions.net_boxes_added + c.net_boxes_added
FROM session_count_changes c
WHERE sessions.workspace_id = :workspace_id
  AND {"sessions.rowid = c.stored_row" if by_row else "sessions.session_key = c.session_key"}"""
    for by_row in (False, True)}

STAGE_REVIEW_DAYS = (
    ("project", "TEXT"), ("labeler", "TEXT"), ("review_date", "DATE"),
    ("approved", "BIGINT"), ("rejected", "BIGINT"))

UPSERT_REVIEW_DAYS = """
INSERT INTO review_days AS r (workspace_id, project, labeler, review_date, approved, rejected)
SELECT :workspace_id, project, labeler, review_date, approved, rejected FROM stage_review_days
ON CONFLICT (workspace_id, project, labeler, review_date) DO UPDATE SET
    approved = r.approved + excluded.approved,
    rejected = r.rejected + excluded.rejected"""

# --- stats (SPEC §5) -----------------------------------------------------------------

_RANGE = """workspace_id = :workspace_id AND {date} BETWEEN :start_date AND :end_date
  AND (CAST(:project AS TEXT) IS NULL OR project = :project)
  AND (CAST(:labeler AS TEXT) IS NULL OR labeler = :labeler)"""


# A session's counts, in the order of `metrics.definitions.PairTotals`.
_SESSION_COUNTS = ("boxes_added", "boxes_removed", "boxes_updated", "net_boxes_added",
                   "images_labeled", "marked_null", "model_assisted")


def _sums(*columns: str) -> str:
    """Column sums as BIGINT: both backends widen a sum of BIGINTs (DuckDB to a 128-bit
    integer, PostgreSQL to numeric), which the drivers turn into Python ints several times
    slower; a 90-day answer of 347 rows at 1M events spent 1 ms of its 10 doing that. A
    count past 2^63 is an error, not a wrong number."""
    return ", ".join(f"CAST(sum({column}) AS BIGINT)" for column in columns)


PAIR_SESSION_TOTALS = f"""
SELECT project, labeler, {_sums(*_SESSION_COUNTS)}
FROM sessions WHERE {_RANGE.format(date="session_date")}
GROUP BY project, labeler"""

PAIR_REVIEW_TOTALS = f"""
SELECT project, labeler, {_sums("approved", "rejected")}
FROM review_days WHERE {_RANGE.format(date="review_date")}
GROUP BY project, labeler"""

# Distinct images over the range: each image's three flags as bits of one integer
# (labeled 1, marked null 2, model-assisted 4) OR-ed over its facts, then the images
# counted by bit. One aggregate a distinct image instead of three `bool_or`: the 365-day
# totals at 50M events ~540 -> 455 ms on DuckDB, the same on PostgreSQL.
UNIQUE_IMAGE_TOTALS = f"""
SELECT count(*) FILTER (WHERE (flags & 1) <> 0), count(*) FILTER (WHERE (flags & 2) <> 0),
       count(*) FILTER (WHERE (flags & 4) <> 0)
FROM (SELECT bit_or(CAST(labeled AS INTEGER) | 2 * CAST(marked_null AS INTEGER)
                    | 4 * CAST(model_assisted AS INTEGER)) AS flags
      FROM session_images WHERE {_RANGE.format(date="session_date")}
      GROUP BY image_key) AS images"""

# --- time series (dashboard) ---------------------------------------------------------
# `:unit` is 'day', 'week' (ISO weeks, from Monday) or 'month'. Dates are cast to TIMESTAMP
# before truncating so PostgreSQL does not pass them through the session's timezone.

_PERIOD = "CAST(date_trunc(CAST(:unit AS TEXT), CAST({date} AS TIMESTAMP)) AS DATE)"

# The group a row belongs to: its labeler, its project, or '' when the series is ungrouped.
_GROUP = """CASE CAST(:group_by AS TEXT) WHEN 'labeler' THEN labeler
                                    WHEN 'project' THEN project ELSE '' END"""

SERIES_SESSION_TOTALS = f"""
SELECT {_PERIOD.format(date="session_date")} AS period, {_GROUP} AS grp,
       {_sums(*_SESSION_COUNTS)}
FROM sessions WHERE {_RANGE.format(date="session_date")}
GROUP BY 1, 2"""

SERIES_REVIEW_TOTALS = f"""
SELECT {_PERIOD.format(date="review_date")} AS period, {_GROUP} AS grp, {_sums("approved", "rejected")}
FROM review_days WHERE {_RANGE.format(date="review_date")}
GROUP BY 1, 2"""

# Distinct (project, image) per period and group, per period, per group and over the whole
# range; the third and fourth columns flag a rolled-up period or group. (Counting each
# image's flags per set first, as `UNIQUE_IMAGE_TOTALS` does, is faster on DuckDB but
# half again slower on PostgreSQL, which sorts for each set.)
_SERIES_UNIQUE_IMAGES = f"""
SELECT period, grp, grouping(period), grouping(grp),
       count(DISTINCT CASE WHEN labeled THEN image_key END),
       count(DISTINCT CASE WHEN marked_null THEN image_key END),
       count(DISTINCT CASE WHEN model_assisted THEN image_key END)
FROM (SELECT {_PERIOD.format(date="session_date")} AS period,
             {_GROUP} AS grp, image_key, labeled, marked_null, model_assisted
      FROM session_images WHERE {_RANGE.format(date="session_date")}) AS facts
GROUP BY GROUPING SETS ({{sets}})"""

SERIES_UNIQUE_IMAGES = _SERIES_UNIQUE_IMAGES.format(sets="(period, grp), (period), (grp), ()")

# An ungrouped series (the default) has one group, '', so it needs only the periods and
# the range: half the counting (a 90-day daily series at 50M events 625 -> 291 ms on
# DuckDB; at 1M on PostgreSQL 29 -> 21 ms).
SERIES_UNIQUE_IMAGES_UNGROUPED = _SERIES_UNIQUE_IMAGES.format(sets="(period, grp), (grp)")

# --- connectors ----------------------------------------------------------------------

# Label Studio: the last version seen of each annotation (see connectors/label_studio.py).
# A delivery may lack the project (a bare `{"id": 1}` deletion), so a NULL staged project
# matches the annotation id in any project.
STAGE_LS_KEYS = (("project", "TEXT"), ("annotation_id", "TEXT"))

_LS_COLUMNS = """a.project, a.annotation_id, a.unique_id, a.image, a.labeler, a.version_us,
       a.regions, a.deleted"""

SELECT_LS_ANNOTATIONS = f"""
SELECT {_LS_COLUMNS}
FROM label_studio_annotations a
JOIN stage_ls_keys k ON k.annotation_id = a.annotation_id
                    AND (k.project IS NULL OR k.project = a.project)
WHERE a.workspace_id = :workspace_id"""

# The same for a delivery of one annotation (almost every webhook): no staging needed.
SELECT_LS_ANNOTATION = f"""
SELECT {_LS_COLUMNS}
FROM label_studio_annotations a
WHERE a.workspace_id = :workspace_id AND a.annotation_id = :annotation_id
  AND (CAST(:project AS TEXT) IS NULL OR a.project = :project)"""

STAGE_LS_ANNOTATIONS = (
    ("project", "TEXT"), ("annotation_id", "TEXT"), ("unique_id", "TEXT"), ("image", "TEXT"),
    ("labeler", "TEXT"), ("version_us", "BIGINT"), ("regions", "TEXT"), ("deleted", "BOOLEAN"))

_LS_UPSERT = """
INSERT INTO label_studio_annotations AS a (workspace_id, project, annotation_id, unique_id,
    image, labeler, version_us, regions, deleted)
{source}
ON CONFLICT (workspace_id, project, annotation_id) DO UPDATE SET
    unique_id = excluded.unique_id, image = excluded.image, labeler = excluded.labeler,
    version_us = excluded.version_us, regions = excluded.regions, deleted = excluded.deleted"""

UPSERT_LS_ANNOTATIONS = _LS_UPSERT.format(source="""SELECT :workspace_id, project, annotation_id,
    unique_id, image, labeler, version_us, regions, deleted
FROM stage_ls_annotations""")

UPSERT_LS_ANNOTATION = _LS_UPSERT.format(source="""VALUES (:workspace_id, :project, :annotation_id,
    :unique_id, :image, :labeler, :version_us, :regions, :deleted)""")

# A tool's project title replaces only the placeholder name (the slug), never a name an
# admin set through PUT /{workspace}/projects/{slug}.
NAME_TOOL_PROJECT = """
INSERT INTO projects AS p (workspace_id, slug, name, type)
VALUES (:workspace_id, :slug, :name, :type)
ON CONFLICT (workspace_id, slug) DO UPDATE SET name = excluded.name, type = excluded.type
WHERE p.name = p.slug"""

# Labelers named by a tool's user list; like projects, an admin-set name is kept.
NAME_TOOL_LABELER = """
INSERT INTO labelers AS l (workspace_id, id, display_name, email, is_system)
VALUES (:workspace_id, :id, :display_name, :email, FALSE)
ON CONFLICT (workspace_id, id) DO UPDATE SET display_name = excluded.display_name,
    email = excluded.email
WHERE l.display_name = l.id OR l.email IS NULL"""

# Imports: rows of a source already committed, advanced in the batch's own transaction.
SELECT_IMPORT_CHECKPOINT = """
SELECT rows_done FROM import_checkpoints WHERE workspace_id = :workspace_id AND source = :source"""

UPSERT_IMPORT_CHECKPOINT = """
INSERT INTO import_checkpoints (workspace_id, source, rows_done, updated_at)
VALUES (:workspace_id, :source, :rows_done, :now)
ON CONFLICT (workspace_id, source) DO UPDATE SET rows_done = excluded.rows_done,
    updated_at = excluded.updated_at"""

DELETE_IMPORT_CHECKPOINT = """
DELETE FROM import_checkpoints WHERE workspace_id = :workspace_id AND source = :source"""
