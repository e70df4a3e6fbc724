"""API keys: random, shown once, stored as SHA-256 hashes, scoped and revocable.

A key looks like `ai_<key id>_<secret>`. The key id is not secret (it names the key in
`keys revoke` and listings); the whole string is hashed, so a leaked database does not
leak usable keys. SHA-256 without a salt is sound here because keys carry 256 bits of
randomness: there is nothing to brute-force.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from annotation_insights.errors import BadRequest, NotFound
from annotation_insights.store.queries import tenancy as tenancy_sql
from annotation_insights.store.database import Database
from annotation_insights.tenancy.workspaces import Workspace

SCOPES = ("read", "write", "admin")
PREFIX = "ai_"


@dataclass(frozen=True)
class ApiKey:
    id: str
    scopes: frozenset[str]
    workspace: Workspace


@dataclass(frozen=True)
class CreatedKey:
    id: str
    key: str
    scopes: tuple[str, ...]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(db: Database, workspace: Workspace, scopes: list[str] | None = None) -> CreatedKey:
    chosen = tuple(s for s in SCOPES if s in set(scopes or SCOPES))
    unknown = set(scopes or ()) - set(SCOPES)
    if unknown:
        raise BadRequest(f"Unknown scope(s) {', '.join(sorted(unknown))}: use read, write or admin.")
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    with db.transaction() as tx:
        tx.execute(tenancy_sql.INSERT_KEY, {
            "id": key_id, "workspace_id": workspace.id, "key_hash": hash_key(key),
            "scopes": " ".join(chosen), "now": _now()})
    return CreatedKey(key_id, key, chosen)


def authenticate(db: Database, key: str) -> ApiKey | None:
    """The live key for this secret, or None for unknown and revoked keys."""
    digest = hash_key(key)
    rows = db.read_reference(tenancy_sql.SELECT_KEY_BY_HASH, {"key_hash": digest})
    if not rows:
        return None
    key_id, stored_hash, scopes, revoked_at, ws_id, slug, name, timezone = rows[0]
    if revoked_at is not None or not hmac.compare_digest(stored_hash, digest):
        return None
    return ApiKey(key_id, frozenset(scopes.split()), Workspace(ws_id, slug, name, timezone))


def revoke_key(db: Database, id_or_prefix: str) -> tuple[str, str]:
    """Revoke the one key whose id (or full key, or a prefix of either) is given."""
    text = id_or_prefix.strip()
    key_id = text[len(PREFIX):].split("_", 1)[0] if text.startswith(PREFIX) else text
    if len(key_id) < 4:
        raise BadRequest("Give at least 4 characters of the key id.")
    matches = db.read(tenancy_sql.SELECT_KEYS_BY_ID_PREFIX, {"prefix": key_id})
    if not matches:
        raise NotFound(f"No API key matches {key_id!r}.")
    if len(matches) > 1:
        raise BadRequest(f"{len(matches)} keys match {key_id!r}; give more of the key id.")
    found_id, slug, revoked_at = matches[0]
    if revoked_at is None:
        with db.transaction() as tx:
            tx.execute(tenancy_sql.REVOKE_KEY, {"id": found_id, "now": _now()})
    return found_id, slug


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
