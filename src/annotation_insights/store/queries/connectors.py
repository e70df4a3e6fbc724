"""What the connectors remember between deliveries and imports."""

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
