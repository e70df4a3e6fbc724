"""Workspaces, API keys and the names of projects and labelers."""

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
