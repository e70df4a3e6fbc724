"""The batch engine's statements (`events/engine.py`, an in-process DuckDB): a batch's
events validated, and their session facts derived.

These statements run on one batch's Arrow columns, never on the store, whatever the
backend. They mirror `events/schema.py` and are only allowed to be stricter than it:
a batch with any row they do not accept is validated again, event by event, by the
Python validator, which then decides and words the errors.
"""

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
ID_HALVES = """CAST(id_hash >> 64 AS UBIGINT) AS key_hi,
       CAST(id_hash & CAST(18446744073709551615 AS UHUGEINT) AS UBIGINT) AS key_lo"""

# Input `raw_events`: the SPEC §3 fields as text (`modelAssisted` boolean), and `time_us`
# where the source already holds a timestamp or `events/batch.py` read the times (all
# written in one plain UTC shape). Output, row for row: `ok`, the instant, and
# the event id's 128-bit identity as two unsigned halves (the other columns are taken
# from the input as they are). Checked in `events/batch.py` instead, far cheaper than a
# pattern per value: control characters, in the raw bytes of the text columns; the
# project and the type, which take a few values a batch, by each distinct value.
_VALIDATE_EVENTS = """
SELECT coalesce(sized(id, 128) AND time_us BETWEEN :earliest_us AND :latest_us
       AND sized(image, 256) AND sized(labeler, 256)
       AND CASE WHEN annotation IS NULL THEN NOT starts_with(type, 'annotation.')
                ELSE sized(annotation, 256) END
       AND (session IS NULL OR sized(session, 256))
       AND (reviewer IS NULL OR sized(reviewer, 256))
       AND ("class" IS NULL OR sized("class", 256)),
       FALSE) AS ok,
       time_us,
       {id_halves}
FROM (SELECT * REPLACE ({time_us} AS time_us),
             md5_number(id) AS id_hash
      FROM raw_events)"""

# Keyed by whether every `time_us` is given: then the statement leaves out the RFC 3339
# pattern, whose compiling cost ~1.3 ms of the ~11 ms a request's batch took to check.
VALIDATE_EVENTS = {read: _VALIDATE_EVENTS.format(
    id_halves=ID_HALVES, time_us="time_us" if read else 'coalesce(time_us, rfc3339_us("time"))')
    for read in (False, True)}

# Input `ndjson_lines`: a block of NDJSON, one line a row (`line`). Output, row for row:
# the SPEC §3 text fields as DuckDB's JSON reader reads them, and `modelAssisted` as its
# JSON text (`:fields` names the types). The reader is lenient where the line-by-line
# parser is strict, so `events/ndjson.py` only takes these columns for a block whose
# bytes and counts rule every difference out.
NDJSON_FIELDS = """
SELECT j.* FROM (SELECT json_transform(line, :fields) AS j FROM ndjson_lines)"""

# Events already validated by Python need only their identity.
EVENT_ID_KEYS = f"""
SELECT {ID_HALVES}
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

# An annotation's identity in the (session, annotation) facts, which only ingest's merges
# read: 63 bits of its id's MD5 (the low ones of DuckDB's `md5_number`; migrations.py has
# PostgreSQL's form for facts stored as text before), unique among a session's
# annotations but for odds of about k² / 2⁶⁴ with k of them. Eight bytes, where an id
# as text took 19 bytes an event on disk when it was a UUID; and a catch-up of events out
# of time order, which compares every stored fact with the batch's, no longer decompresses
# and hashes every stored id (its lookup over 7.8M facts 0.42 -> 0.21 s).
ANNOTATION_KEY = "CAST(md5_number(annotation) & CAST(9223372036854775807 AS UHUGEINT) AS BIGINT)"

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
# counts by what it sets in its facts (`ingest.ADD_SESSION_COUNT_CHANGES`). Each fact carries its
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
SELECT f.part, f.image, p.project, p.labeler, unhex({IMAGE_KEY}) AS image_key, f.labeled,
       f.marked_null, f.model_assisted, p.session_date
FROM (SELECT part, image,
             bool_or(starts_with(type, 'annotation.') OR type = 'image.marked_null') AS labeled,
             bool_or(type = 'image.marked_null') AS marked_null,
             bool_or(type = 'image.model_assisted'
                     OR (type = 'annotation.created' AND coalesce(model_assisted, FALSE)))
                 AS model_assisted
      FROM keyed_events WHERE part IS NOT NULL GROUP BY part, image) f
JOIN parts p ON p.part = f.part"""

FACT_SESSION_ANNOTATIONS = f"""
SELECT f.part, f.annotation_key, f.created, f.deleted, p.session_date
FROM (SELECT part, {ANNOTATION_KEY} AS annotation_key,
             bool_or(type = 'annotation.created') AS created,
             bool_or(type = 'annotation.deleted') AS deleted
      FROM keyed_events WHERE starts_with(type, 'annotation.') GROUP BY part, annotation_key) f
JOIN parts p ON p.part = f.part"""

FACT_REVIEW_DAYS = """
SELECT project, labeler, local_date AS review_date,
       count(*) FILTER (WHERE type = 'image.approved') AS approved,
       count(*) FILTER (WHERE type = 'image.rejected') AS rejected
FROM batch_events WHERE type IN ('image.approved', 'image.rejected')
GROUP BY project, labeler, local_date"""
