"""Storing a batch: its events, DuckDB's rollup backlog, and the merge of its
session facts into the stored rollups (`events/ingest.py`)."""

from annotation_insights.store.queries.batch import ID_HALVES

STAGE_EVENTS = (
    ("event_id", "TEXT"), ("type", "TEXT"), ("time_us", "BIGINT"), ("project", "TEXT"),
    ("image", "TEXT"), ("labeler", "TEXT"), ("annotation", "TEXT"), ("session", "TEXT"),
    ("model_assisted", "BOOLEAN"), ("reviewer", "TEXT"), ("class", "TEXT"))

_EVENT_COLUMNS = ", ".join(column for column, _ in STAGE_EVENTS)

# DuckDB: staged events are all new (the writer checked its key set first), those of
# every batch of a transaction in one statement (the statement's fixed cost, several
# milliseconds on a busy server, is then paid once per group commit, not once per batch).
# Each row names its workspace and its rollup backlog batch's number, or none when its
# rollups are applied with it.
STAGE_WRITTEN_EVENTS = (("workspace_id", "INTEGER"), *STAGE_EVENTS, ("backlog_batch", "BIGINT"))
INSERT_EVENTS = f"""
INSERT INTO events (workspace_id, {_EVENT_COLUMNS}, backlog_batch)
SELECT workspace_id, {_EVENT_COLUMNS}, backlog_batch FROM stage_events"""

# Concurrent writers: the unique index decides which events are new.
INSERT_NEW_EVENTS = f"""
INSERT INTO events (workspace_id, {_EVENT_COLUMNS})
SELECT :workspace_id, {_EVENT_COLUMNS} FROM stage_events
ON CONFLICT (workspace_id, event_id) DO NOTHING
RETURNING event_id"""

# DuckDB's writer loads the identities of a workspace's stored events into memory once.
SELECT_EVENT_KEYS = f"""
SELECT {ID_HALVES}
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
# before the batch (`known`); annotations also with their number among the batch's
# (`fact_no`).
STAGE_SESSION_IMAGES = (
    ("session_key", "UUID"), ("image", "TEXT"), ("project", "TEXT"), ("labeler", "TEXT"),
    ("image_key", "UUID"), ("labeled", "BOOLEAN"), ("marked_null", "BOOLEAN"),
    ("model_assisted", "BOOLEAN"), ("session_date", "DATE"), ("known", "BOOLEAN"))

STAGE_SESSION_ANNOTATIONS = (
    ("session_key", "UUID"), ("annotation_key", "BIGINT"), ("created", "BOOLEAN"), ("deleted", "BOOLEAN"),
    ("session_date", "DATE"), ("known", "BOOLEAN"), ("fact_no", "INTEGER"))

# The facts of known sessions are merged so that the stored facts are read once per fact
# table: LOOKUP_* stages each such fact with what is stored of it (whether it is, where,
# and its flags) as `known_<table>`, MERGE_* stores what the batch adds, and
# ADD_SESSION_COUNT_CHANGES changes the sessions' distinct counts by what the merge
# changed. The lookups join only within the touched sessions' dates (DuckDB skips the
# rest of a table by its zone maps; PostgreSQL finds facts by their keys). With the
# workspace's writer serialised this is a correct upsert, without an index of every
# (session, image) and (session, annotation) ever seen. Recounting the touched sessions
# from all their facts instead read every fact of every such session: when events arrive
# out of time order, nearly the whole table at each catch-up.
#
# A stored fact whose flags the batch sets is updated, on DuckDB by the row number its
# lookup found (`rowid`, stable while the writer's transaction lasts; a catch-up of
# 237,292 events in random order into 8M (session, annotation) facts: 0.06 s against
# 0.23-0.28 s by key), on PostgreSQL by key through its primary key
# (`Dialect.merges_by_row_number`). Except DuckDB's (session, annotation) facts
# (`Dialect.appends_annotation_flags`): such a fact whose flags the batch adds gets
# another row with its flags as they now are, its flags are those of any of its rows,
# and its lookup ORs them. DuckDB's update keeps what it needs to undo by 2,048-row
# vector until the commit, and the annotations a catch-up of events in random order sets
# flags on lie in nearly every vector: 35,826 of 7.8M, set by 237,292 events, held
# 103 MiB, a tenth of the server's memory, to change a few bits (their rows appended
# hold ~2 MiB). Only the merges read those facts. The stats read the (session, image)
# ones, which a catch-up sets flags on far fewer of (1,416 there, 11 MiB), and which
# stay one row a fact: appended, they gave a 10M store in random order 4% more rows for
# every distinct-image count to read.
_STORED = """{alias}.workspace_id = :workspace_id
  AND {alias}.session_date BETWEEN :first_date AND :last_date
  AND {alias}.session_key = {key} AND {alias}.{item} = {staged}.{item}"""

IMAGE_FLAGS = ("labeled", "marked_null", "model_assisted")
_ANNOTATION_FLAGS = ("created", "deleted")


def _lookup(table: str, alias: str, item: str, columns: str, flags: tuple[str, ...], *,
            by_row: bool, appends: bool) -> str:
    was = ",\n       ".join(f"coalesce({alias}.{'was_' if appends else ''}{flag}, FALSE) AS was_{flag}"
                             for flag in flags)
    key = "CAST(f.session_key AS UUID)"
    # Appended: a fact may have several rows, so its stored flags are OR-ed over them,
    # among the matches only, grouped by the staged fact's number (grouping by its key,
    # when that held the annotation's id as text, cost a catch-up 0.1 s more).
    stored = (f"""(SELECT k.fact_no, {", ".join(f"bool_or({alias}.{flag}) AS was_{flag}" for flag in flags)}
  FROM stage_{table} k JOIN {table} {alias}
    ON {_STORED.format(alias=alias, key="CAST(k.session_key AS UUID)", item=item, staged="k")}
  WHERE k.known
  GROUP BY k.fact_no) {alias} ON {alias}.fact_no = f.fact_no""" if appends
              else f"{table} {alias}\n  ON {_STORED.format(alias=alias, key=key, item=item, staged='f')}")
    # Only an update by row number needs where the fact is stored.
    row = f"\n       {alias}.rowid AS stored_row," if by_row else ""
    return f"""
SELECT {key} AS session_key, {columns}, d.session_date,
       {", ".join(f"f.{flag}" for flag in flags)},
       {alias}.{"fact_no" if appends else item} IS NOT NULL AS stored,{row}
       {was}
FROM stage_{table} f
JOIN stage_session_dates d ON CAST(d.session_key AS UUID) = {key}
LEFT JOIN {stored}
WHERE f.known"""


def _adds(flags: tuple[str, ...]) -> str:
    return " OR ".join(f"(s.{flag} AND NOT s.was_{flag})" for flag in flags)


def _update(table: str, alias: str, item: str, flags: tuple[str, ...], by_row: bool) -> str:
    found = (f"""{alias}.rowid = s.stored_row AND {alias}.workspace_id = :workspace_id
  AND {alias}.session_date BETWEEN :first_date AND :last_date""" if by_row
             else _STORED.format(alias=alias, key="s.session_key", item=item, staged="s"))
    return f"""
UPDATE {table} AS {alias} SET {", ".join(f"{flag} = s.{flag} OR s.was_{flag}" for flag in flags)}
FROM known_{table} s
WHERE s.stored AND ({_adds(flags)})
  AND {found}"""


def _flags(flags: tuple[str, ...], union: bool) -> str:
    return ", ".join(f"s.{flag} OR s.was_{flag}" if union else f"s.{flag}" for flag in flags)


# A lookup's facts come out of its join in no order; stored with each session's together
# (as a batch's facts are, metrics/definitions.py) they compress far better: 1M events
# posted in random order took 63.7 bytes an event on disk unordered, 56.1 ordered.
_IN_ORDER = "\nORDER BY s.session_date, s.session_key"


def _merge(insert: str, table: str, alias: str, item: str, flags: tuple[str, ...], *,
           by_row: bool, appends: bool) -> tuple[str, ...]:
    """The statements that store what a batch adds to known sessions' facts."""
    if appends:
        return (insert.format(source=f"known_{table}", flags=_flags(flags, union=True))
                + f"\nWHERE NOT s.stored OR {_adds(flags)}" + _IN_ORDER,)
    return (_update(table, alias, item, flags, by_row),
            insert.format(source=f"known_{table}", flags=_flags(flags, union=False))
            + "\nWHERE NOT s.stored" + _IN_ORDER)


_INSERT_SESSION_IMAGES = """
INSERT INTO session_images (workspace_id, session_key, image, project, labeler, session_date,
    labeled, marked_null, model_assisted, image_key)
SELECT :workspace_id, CAST(s.session_key AS UUID), s.image, s.project, s.labeler, s.session_date,
       {flags}, CAST(s.image_key AS UUID)
FROM {source} s"""

_IMAGES = ("session_images", "si", "image")

# Keyed by `Dialect.merges_by_row_number`.
LOOKUP_SESSION_IMAGES = {by_row: _lookup(
    *_IMAGES, "f.image, f.project, f.labeler, CAST(f.image_key AS UUID) AS image_key", IMAGE_FLAGS,
    by_row=by_row, appends=False) for by_row in (False, True)}
MERGE_SESSION_IMAGES = {by_row: _merge(_INSERT_SESSION_IMAGES, *_IMAGES, IMAGE_FLAGS,
                                       by_row=by_row, appends=False) for by_row in (False, True)}

INSERT_NEW_SESSION_IMAGES = _INSERT_SESSION_IMAGES.format(
    source="stage_session_images", flags=_flags(IMAGE_FLAGS, union=False)) + "\nWHERE NOT s.known"

_INSERT_SESSION_ANNOTATIONS = """
INSERT INTO session_annotations (workspace_id, session_key, annotation_key, session_date, created, deleted)
SELECT :workspace_id, CAST(s.session_key AS UUID), s.annotation_key, s.session_date, {flags}
FROM {source} s"""

_ANNOTATIONS = ("session_annotations", "sa", "annotation_key")

# Keyed by `Dialect.appends_annotation_flags`.
LOOKUP_SESSION_ANNOTATIONS = {appends: _lookup(*_ANNOTATIONS, "f.annotation_key", _ANNOTATION_FLAGS,
                                               by_row=False, appends=appends) for appends in (False, True)}
MERGE_SESSION_ANNOTATIONS = {appends: _merge(_INSERT_SESSION_ANNOTATIONS, *_ANNOTATIONS, _ANNOTATION_FLAGS,
                                             by_row=False, appends=appends) for appends in (False, True)}

INSERT_NEW_SESSION_ANNOTATIONS = _INSERT_SESSION_ANNOTATIONS.format(
    source="stage_session_annotations", flags=_flags(_ANNOTATION_FLAGS, union=False)) + "\nWHERE NOT s.known"

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

# A range's distinct images are counted without grouping by image (`stats.STATS_TOTALS`):
# each (session, image) fact holds, for each flag, the date of the latest fact of the
# same image with that flag ordered before it by date, then session key (`prior_<flag>`,
# null for none). Of an image's facts with a flag in a range, exactly the first has no
# such prior in the range, so the range's images with the flag are a count of those
# facts. Once a batch's image facts are stored, the priors of every fact of each image
# it touched, and of each session it moved to an earlier date, are computed again, and
# the changed ones updated: in time order, only a new fact of an image seen before.
# Shared with the migration that added the priors (migrations.py, 8).
SET_PRIORS = ", ".join(f"prior_{flag} = p.new_{flag}" for flag in IMAGE_FLAGS)
NEW_PRIORS = ", ".join(f"max(CASE WHEN {flag} THEN session_date END) OVER earlier AS new_{flag}"
                       for flag in IMAGE_FLAGS)
EARLIER_FACTS = """earlier AS (PARTITION BY workspace_id, image_key ORDER BY session_date, session_key
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"""

_TOUCHED_IMAGES = "SELECT CAST(image_key AS UUID) FROM stage_session_images"
_MOVED_IMAGES = """
                  UNION ALL
                  SELECT m.image_key FROM session_images m
                  JOIN stage_moved_sessions s ON m.session_key = CAST(s.session_key AS UUID)
                  WHERE m.workspace_id = :workspace_id"""


def _update_priors(by_row: bool, moved: bool) -> str:
    """Only an image with more than one fact can have a prior: a third less work (60,000
    facts of a block of a 10M import, one in nine with a prior) than windowing them all."""
    stored = ("session_images.rowid = p.stored_row" if by_row else
              "session_images.session_key = p.session_key AND session_images.image = p.image")
    return f"""
UPDATE session_images SET {SET_PRIORS}
FROM (WITH touched AS MATERIALIZED (
          SELECT {"rowid AS stored_row, " if by_row else ""}workspace_id, image_key, image,
                 session_date, session_key, {", ".join(IMAGE_FLAGS)},
                 {", ".join(f"prior_{flag}" for flag in IMAGE_FLAGS)}
          FROM session_images
          WHERE workspace_id = :workspace_id
            AND image_key IN ({_TOUCHED_IMAGES}{_MOVED_IMAGES if moved else ""}))
      SELECT * FROM (SELECT {"stored_row" if by_row else "session_key, image"},
                            {", ".join(f"prior_{flag}" for flag in IMAGE_FLAGS)}, {NEW_PRIORS}
                     FROM touched
                     WHERE image_key IN (SELECT image_key FROM touched GROUP BY image_key HAVING count(*) > 1)
                     WINDOW {EARLIER_FACTS}) AS windowed
      WHERE {" OR ".join(f"new_{flag} IS DISTINCT FROM prior_{flag}" for flag in IMAGE_FLAGS)}) p
WHERE session_images.workspace_id = :workspace_id AND {stored}"""


# Keyed by (`Dialect.merges_by_row_number`, whether the batch moved sessions).
UPDATE_IMAGE_PRIORS = {(by_row, moved): _update_priors(by_row, moved)
                       for by_row in (False, True) for moved in (False, True)}

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

# As MERGE_SESSIONS: an update and an insert, so DuckDB needs no index of the keys
# (migration 10).
_STORED_REVIEW_DAY = """r.workspace_id = :workspace_id AND r.project = st.project
    AND r.labeler = st.labeler AND r.review_date = st.review_date"""
MERGE_REVIEW_DAYS = (f"""
UPDATE review_days AS r SET approved = r.approved + st.approved, rejected = r.rejected + st.rejected
FROM stage_review_days st
WHERE {_STORED_REVIEW_DAY}""", f"""
INSERT INTO review_days (workspace_id, project, labeler, review_date, approved, rejected)
SELECT :workspace_id, project, labeler, review_date, approved, rejected FROM stage_review_days st
WHERE NOT EXISTS (SELECT 1 FROM review_days r WHERE {_STORED_REVIEW_DAY})""")

# --- PostgreSQL: a range's distinct images by day ------------------------------------
# A range's images with a flag are its facts with the flag and no prior in the range
# (UPDATE_IMAGE_PRIORS), so only each fact's date, project, flag and prior date matter to
# that count. PostgreSQL reads rows, not columns: at 10M events it took ~70 ms to count
# a 90-day range's 340,000 facts, and ~100 ms a year's 1.3M. It counts them instead from
# `image_fact_days`, the number of facts of each (date, project, flag, prior date):
# ~53,000 rows for that year, however many events it holds. Triggers keep it, so every
# statement that changes a fact (insert, merge, new priors, a moved session, the
# migration that made it) changes its counts in the same transaction. DuckDB scans the
# facts' few columns in a few milliseconds and keeps none of this.
IMAGE_FLAG_BITS = {flag: 1 << i for i, flag in enumerate(IMAGE_FLAGS)}  # also one labeler's images' bits
# A prior date is kept as its day number since 1970 (`DAY_NUMBER`), and "no prior" as the
# smallest integer, before any date a range can start on (a key column holds no NULL).
# Not a date: `-infinity` cannot be read into a Python date (anyone's `SELECT *` of the
# table would fail), and year 1 is a date an event may have.
DAY_NUMBER = "({date} - DATE '1970-01-01')"
NO_PRIOR = "-2147483648"
_FACT_DAY_KEY = "workspace_id, session_date, project, flag, prior_day"


def _fact_days(facts: str, sign: int) -> str:
    return "\n    UNION ALL\n    ".join(
        f"SELECT workspace_id, session_date, project, CAST({bit} AS SMALLINT) AS flag, "
        f"coalesce({DAY_NUMBER.format(date=f'prior_{flag}')}, {NO_PRIOR}) AS prior_day, "
        f"{sign} AS facts FROM {facts} WHERE {flag}"
        for flag, bit in IMAGE_FLAG_BITS.items())


def _count_fact_days(*changes: tuple[str, int]) -> str:
    """Add the changed facts' counts (+1 for a new row, -1 for an old one)."""
    union = "\n    UNION ALL\n    ".join(_fact_days(facts, sign) for facts, sign in changes)
    return f"""
INSERT INTO image_fact_days AS d ({_FACT_DAY_KEY}, facts)
SELECT {_FACT_DAY_KEY}, sum(facts) FROM (
    {union}) AS changes
GROUP BY {_FACT_DAY_KEY} HAVING sum(facts) <> 0
ON CONFLICT ({_FACT_DAY_KEY}) DO UPDATE SET facts = d.facts + excluded.facts;"""


CREATE_IMAGE_FACT_DAYS = f"""CREATE TABLE image_fact_days (
    workspace_id INTEGER NOT NULL,
    session_date DATE NOT NULL,
    project TEXT NOT NULL,
    flag SMALLINT NOT NULL,
    prior_day INTEGER NOT NULL,
    facts BIGINT NOT NULL,
    PRIMARY KEY ({_FACT_DAY_KEY}))"""

FILL_IMAGE_FACT_DAYS = _count_fact_days(("session_images", 1)).rstrip(";")

# One function for both triggers, as in PostgreSQL's manual ("Auditing with Transition
# Tables"): a statement reads only the transition tables its trigger has. Facts are
# never deleted (a workspace's history only grows), so no trigger counts deletions.
CREATE_IMAGE_FACT_DAYS_FUNCTION = f"""
CREATE FUNCTION count_image_fact_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {_count_fact_days(("new_facts", 1))}
    ELSE {_count_fact_days(("new_facts", 1), ("old_facts", -1))}
    END IF;
    RETURN NULL;
END $$"""

CREATE_IMAGE_FACT_DAYS_TRIGGERS = tuple(
    f"""CREATE TRIGGER image_fact_days_{operation.lower()} AFTER {operation} ON session_images
        REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION count_image_fact_days()"""
    for operation, transition in (("INSERT", "NEW TABLE AS new_facts"),
                                  ("UPDATE", "OLD TABLE AS old_facts NEW TABLE AS new_facts")))
