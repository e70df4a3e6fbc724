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

# --- ingest --------------------------------------------------------------------------

STAGE_EVENTS = (
    ("event_key", "UUID"), ("event_id", "TEXT"), ("type", "TEXT"), ("time_us", "BIGINT"),
    ("project", "TEXT"), ("image", "TEXT"), ("labeler", "TEXT"), ("annotation", "TEXT"),
    ("session", "TEXT"), ("model_assisted", "BOOLEAN"), ("reviewer", "TEXT"), ("class", "TEXT"))

INSERT_NEW_EVENTS = """
INSERT INTO events (workspace_id, event_key, event_id, type, time_us, project, image, labeler,
                    annotation, session, model_assisted, reviewer, class)
SELECT :workspace_id, CAST(event_key AS UUID), event_id, type, time_us, project, image, labeler,
       annotation, session, model_assisted, reviewer, class
FROM stage_events
ON CONFLICT (workspace_id, event_key) DO NOTHING
RETURNING CAST(event_key AS TEXT)"""

STAGE_SESSIONS = (
    ("session_key", "UUID"), ("project", "TEXT"), ("labeler", "TEXT"), ("explicit", "BOOLEAN"),
    ("first_time_us", "BIGINT"), ("session_date", "DATE"), ("boxes_added", "BIGINT"),
    ("boxes_removed", "BIGINT"), ("boxes_updated", "BIGINT"))

UPSERT_SESSIONS = """
INSERT INTO sessions AS s (workspace_id, session_key, project, labeler, explicit, first_time_us,
    session_date, boxes_added, boxes_removed, boxes_updated, net_boxes_added, images_labeled,
    marked_null, model_assisted)
SELECT :workspace_id, CAST(session_key AS UUID), project, labeler, explicit, first_time_us,
       session_date, boxes_added, boxes_removed, boxes_updated, 0, 0, 0, 0
FROM stage_sessions
ON CONFLICT (workspace_id, session_key) DO UPDATE SET
    boxes_added = s.boxes_added + excluded.boxes_added,
    boxes_removed = s.boxes_removed + excluded.boxes_removed,
    boxes_updated = s.boxes_updated + excluded.boxes_updated,
    session_date = CASE WHEN excluded.first_time_us < s.first_time_us
                        THEN excluded.session_date ELSE s.session_date END,
    first_time_us = least(s.first_time_us, excluded.first_time_us)"""

STAGE_SESSION_IMAGES = (
    ("session_key", "UUID"), ("image", "TEXT"), ("project", "TEXT"), ("labeler", "TEXT"),
    ("session_date", "DATE"), ("labeled", "BOOLEAN"), ("marked_null", "BOOLEAN"),
    ("model_assisted", "BOOLEAN"))

UPSERT_SESSION_IMAGES = """
INSERT INTO session_images AS si (workspace_id, session_key, image, project, labeler, session_date,
    labeled, marked_null, model_assisted)
SELECT :workspace_id, CAST(session_key AS UUID), image, project, labeler, session_date,
       labeled, marked_null, model_assisted
FROM stage_session_images
ON CONFLICT (workspace_id, session_key, image) DO UPDATE SET
    labeled = si.labeled OR excluded.labeled,
    marked_null = si.marked_null OR excluded.marked_null,
    model_assisted = si.model_assisted OR excluded.model_assisted"""

STAGE_SESSION_ANNOTATIONS = (
    ("session_key", "UUID"), ("annotation", "TEXT"), ("created", "BOOLEAN"), ("deleted", "BOOLEAN"))

UPSERT_SESSION_ANNOTATIONS = """
INSERT INTO session_annotations AS sa (workspace_id, session_key, annotation, created, deleted)
SELECT :workspace_id, CAST(session_key AS UUID), annotation, created, deleted
FROM stage_session_annotations
ON CONFLICT (workspace_id, session_key, annotation) DO UPDATE SET
    created = sa.created OR excluded.created,
    deleted = sa.deleted OR excluded.deleted"""

# A late event can move an explicit session's date; its image facts follow it.
REFRESH_SESSION_IMAGE_DATES = """
UPDATE session_images SET session_date = s.session_date
FROM sessions s
WHERE s.workspace_id = :workspace_id AND session_images.workspace_id = :workspace_id
  AND s.session_key IN (SELECT CAST(session_key AS UUID) FROM stage_sessions WHERE explicit)
  AND session_images.session_key = s.session_key
  AND session_images.session_date <> s.session_date"""

# The per-session distinct counts (SPEC §5) are recomputed from the facts of the sessions
# a batch touched: cheap, order-independent and self-correcting.
REFRESH_SESSION_IMAGE_COUNTS = """
UPDATE sessions SET images_labeled = f.images_labeled, marked_null = f.marked_null,
    model_assisted = f.model_assisted
FROM (SELECT session_key,
             count(*) FILTER (WHERE labeled) AS images_labeled,
             count(*) FILTER (WHERE marked_null) AS marked_null,
             count(*) FILTER (WHERE model_assisted) AS model_assisted
      FROM session_images
      WHERE workspace_id = :workspace_id
        AND session_key IN (SELECT CAST(session_key AS UUID) FROM stage_sessions)
      GROUP BY session_key) f
WHERE sessions.workspace_id = :workspace_id AND sessions.session_key = f.session_key"""

REFRESH_SESSION_NET_BOXES = """
UPDATE sessions SET net_boxes_added = f.net_boxes_added
FROM (SELECT session_key, count(*) FILTER (WHERE created AND NOT deleted) AS net_boxes_added
      FROM session_annotations
      WHERE workspace_id = :workspace_id
        AND session_key IN (SELECT CAST(session_key AS UUID) FROM stage_sessions)
      GROUP BY session_key) f
WHERE sessions.workspace_id = :workspace_id AND sessions.session_key = f.session_key"""

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

PAIR_SESSION_TOTALS = f"""
SELECT project, labeler, sum(boxes_added), sum(boxes_removed), sum(boxes_updated),
       sum(net_boxes_added), sum(images_labeled), sum(marked_null), sum(model_assisted)
FROM sessions WHERE {_RANGE.format(date="session_date")}
GROUP BY project, labeler"""

PAIR_REVIEW_TOTALS = f"""
SELECT project, labeler, sum(approved), sum(rejected)
FROM review_days WHERE {_RANGE.format(date="review_date")}
GROUP BY project, labeler"""

UNIQUE_IMAGE_TOTALS = f"""
SELECT count(*) FILTER (WHERE labeled), count(*) FILTER (WHERE marked_null),
       count(*) FILTER (WHERE model_assisted)
FROM (SELECT project, image, bool_or(labeled) AS labeled, bool_or(marked_null) AS marked_null,
             bool_or(model_assisted) AS model_assisted
      FROM session_images WHERE {_RANGE.format(date="session_date")}
      GROUP BY project, image) AS images"""

# --- time series (dashboard) ---------------------------------------------------------
# `:unit` is 'day', 'week' (ISO weeks, from Monday) or 'month'. Dates are cast to TIMESTAMP
# before truncating so PostgreSQL does not pass them through the session's timezone.

_PERIOD = "CAST(date_trunc(CAST(:unit AS TEXT), CAST({date} AS TIMESTAMP)) AS DATE)"

SERIES_SESSION_TOTALS = f"""
SELECT {_PERIOD.format(date="session_date")} AS period, project, labeler,
       sum(boxes_added), sum(boxes_removed), sum(boxes_updated), sum(net_boxes_added),
       sum(images_labeled), sum(marked_null), sum(model_assisted)
FROM sessions WHERE {_RANGE.format(date="session_date")}
GROUP BY 1, project, labeler"""

SERIES_REVIEW_TOTALS = f"""
SELECT {_PERIOD.format(date="review_date")} AS period, project, labeler, sum(approved), sum(rejected)
FROM review_days WHERE {_RANGE.format(date="review_date")}
GROUP BY 1, project, labeler"""

# Distinct (project, image) per period and group, per period, per group and over the whole
# range; a NULL period or group marks the rolled-up rows. Project slugs cannot contain '/',
# so `project || '/' || image` names an image unambiguously on both backends.
SERIES_UNIQUE_IMAGES = f"""
SELECT period, grp, grouping(period), grouping(grp),
       count(DISTINCT CASE WHEN labeled THEN image_key END),
       count(DISTINCT CASE WHEN marked_null THEN image_key END),
       count(DISTINCT CASE WHEN model_assisted THEN image_key END)
FROM (SELECT {_PERIOD.format(date="session_date")} AS period,
             CASE CAST(:group_by AS TEXT) WHEN 'labeler' THEN labeler
                                          WHEN 'project' THEN project ELSE '' END AS grp,
             project || '/' || image AS image_key, labeled, marked_null, model_assisted
      FROM session_images WHERE {_RANGE.format(date="session_date")}) AS facts
GROUP BY GROUPING SETS ((period, grp), (period), (grp), ())"""

# --- connectors ----------------------------------------------------------------------

# Label Studio: the last version seen of each annotation (see connectors/label_studio.py).
# A delivery may lack the project (a bare `{"id": 1}` deletion), so a NULL staged project
# matches the annotation id in any project.
STAGE_LS_KEYS = (("project", "TEXT"), ("annotation_id", "TEXT"))

SELECT_LS_ANNOTATIONS = """
SELECT a.project, a.annotation_id, a.unique_id, a.image, a.labeler, a.version_us, a.regions,
       a.deleted
FROM label_studio_annotations a
JOIN stage_ls_keys k ON k.annotation_id = a.annotation_id
                    AND (k.project IS NULL OR k.project = a.project)
WHERE a.workspace_id = :workspace_id"""

STAGE_LS_ANNOTATIONS = (
    ("project", "TEXT"), ("annotation_id", "TEXT"), ("unique_id", "TEXT"), ("image", "TEXT"),
    ("labeler", "TEXT"), ("version_us", "BIGINT"), ("regions", "TEXT"), ("deleted", "BOOLEAN"))

UPSERT_LS_ANNOTATIONS = """
INSERT INTO label_studio_annotations AS a (workspace_id, project, annotation_id, unique_id,
    image, labeler, version_us, regions, deleted)
SELECT :workspace_id, project, annotation_id, unique_id, image, labeler, version_us, regions,
       deleted
FROM stage_ls_annotations
ON CONFLICT (workspace_id, project, annotation_id) DO UPDATE SET
    unique_id = excluded.unique_id, image = excluded.image, labeler = excluded.labeler,
    version_us = excluded.version_us, regions = excluded.regions, deleted = excluded.deleted"""

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
