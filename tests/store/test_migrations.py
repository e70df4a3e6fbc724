"""The versioned schema: created on first open, kept on reopen, newer versions refused."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from annotation_insights.errors import StoreUnavailable
from annotation_insights.events import engine
from annotation_insights.events.ingest import ingest, validate_batch
from annotation_insights.metrics.query import StatsQuery, run_stats
from annotation_insights.store import open_database
from annotation_insights.store.migrations import LATEST_VERSION
from annotation_insights.store.queries.batch import ANNOTATION_KEY
from annotation_insights.store.queries.ingest import IMAGE_FLAGS
from annotation_insights.tenancy.workspaces import create_workspace, get_workspace
from support.reference_model import reference_stats
from support.worked_example import worked_events


def test_reopening_keeps_data_and_version(database_url):
    with open_database(database_url) as db:
        create_workspace(db, "kept", timezone="Asia/Kolkata")
    with open_database(database_url) as db:
        assert get_workspace(db, "kept").timezone == "Asia/Kolkata"
        assert db.read("SELECT max(version), count(*) FROM schema_version")[0] == (
            LATEST_VERSION, LATEST_VERSION)


def test_database_from_newer_release_is_refused(database_url):
    with open_database(database_url) as db:
        with db.transaction() as tx:
            tx.execute("INSERT INTO schema_version VALUES (:v)", {"v": LATEST_VERSION + 1})
    with pytest.raises(StoreUnavailable, match=f"schema version {LATEST_VERSION + 1}, newer"):
        open_database(database_url)


def _stats(db, workspace) -> dict:
    query = StatsQuery.parse(start="2024-03-01", end="2024-03-03", availability=dt.date(2023, 8, 1))
    return run_stats(db, workspace, query)


def _annotation_facts_keyed_by_text(db) -> None:
    """Undo migration 7: the facts' annotation ids back as text, found by the key the
    batch engine computes for each id stored in the events."""
    ids = pa.table({"annotation": [row[0] for row in db.read(
        "SELECT DISTINCT annotation FROM events WHERE annotation IS NOT NULL")]})
    keyed = engine.run(f"SELECT annotation, {ANNOTATION_KEY} AS annotation_key FROM ids", ids=ids)
    with db.transaction() as tx:
        tx.execute("ALTER TABLE session_annotations ADD COLUMN annotation TEXT")
        tx.stage_table("annotation_ids", (("annotation", "TEXT"), ("annotation_key", "BIGINT")), keyed)
        tx.execute("UPDATE session_annotations SET annotation = a.annotation FROM annotation_ids a "
                   "WHERE a.annotation_key = session_annotations.annotation_key")
    with db.transaction() as tx:
        tx.execute("ALTER TABLE session_annotations DROP COLUMN annotation_key")
        if db.dialect.name == "postgresql":
            tx.execute("ALTER TABLE session_annotations ADD PRIMARY KEY (workspace_id, session_key, annotation)")
    assert db.read("SELECT count(*) FROM session_annotations WHERE annotation IS NULL") == [(0,)]


def _without_image_fact_days(db) -> None:
    """Undo migration 9: PostgreSQL without the counts of image facts by day (and their
    triggers) or the indexes by labeler and project."""
    if db.dialect.name != "postgresql":
        return
    with db.transaction() as tx:
        tx.execute("DROP TABLE image_fact_days")
        tx.execute("DROP FUNCTION count_image_fact_days CASCADE")  # and its triggers
        for index in ("sessions_by_labeler", "sessions_by_project", "review_days_by_labeler",
                      "session_images_by_labeler"):
            tx.execute(f"DROP INDEX {index}")


def _image_facts_without_priors(db) -> None:
    """Undo migration 8: the (session, image) facts without their priors."""
    _without_image_fact_days(db)
    with db.transaction() as tx:
        for flag in IMAGE_FLAGS:
            tx.execute(f"ALTER TABLE session_images DROP COLUMN prior_{flag}")
        if db.dialect.name == "postgresql":
            tx.execute("DROP INDEX session_images_by_image")


def test_a_store_of_schema_7_counts_images_seen_before_a_range_once_after_the_upgrade(database_url):
    # The same images labeled on three days, by two labelers, one of them in an explicit
    # session; a later batch labels them again. A range that starts on the second day
    # counts each image once only if the upgrade gave the stored facts their priors.
    events = [{"id": f"e{day}{labeler}{image}", "type": "annotation.created",
               "time": f"2024-03-0{day}T1{image}:00:00Z", "project": "p", "image": f"img{image}",
               "labeler": labeler, "annotation": f"a{day}{labeler}{image}",
               **({"session": "s"} if labeler == "B" else {})}
              for day in (1, 2, 3) for labeler in ("A", "B") for image in (1, 2)]
    events += [{**events[0], "id": "n1", "type": "image.marked_null", "time": "2024-03-02T09:00:00Z"}]
    later = [{**event, "id": f"later-{event['id']}", "annotation": f"later-{event['annotation']}",
              "time": event["time"].replace("2024-03-0", "2024-03-1")} for event in events[:4]]
    with open_database(database_url) as db:
        ingest(db, create_workspace(db, "acme"), validate_batch(events))
        _stats(db, get_workspace(db, "acme"))  # the rollups applied before the downgrade
        _image_facts_without_priors(db)
        with db.transaction() as tx:
            tx.execute("DELETE FROM schema_version WHERE version > 7")
    with open_database(database_url) as db:
        workspace = get_workspace(db, "acme")
        for stored in (events, events + later):
            if stored is not events:
                ingest(db, workspace, validate_batch(later))
            for start, end, user_id in (("2024-03-02", "2024-03-03", None), ("2024-03-03", "2024-03-13", None),
                                        ("2024-03-02", "2024-03-02", "B"), ("2024-03-01", "2024-03-11", None)):
                query = StatsQuery.parse(start=start, end=end, user_id=user_id, availability=dt.date(2023, 8, 1))
                expected = reference_stats(stored, timezone="UTC", start=dt.date.fromisoformat(start),
                                           end=dt.date.fromisoformat(end), project=None, user_id=user_id)
                assert run_stats(db, workspace, query)["stats"] == expected["stats"]


def test_a_store_of_schema_2_is_upgraded_with_its_data_and_rollups(database_url):
    # Labeler B works on the images A labeled before the upgrade: the totals count each
    # image once only if the upgrade keyed the stored images as ingest keys new ones. A
    # deletes a box of a session stored before it: the net count drops only if the
    # upgrade keyed the stored annotations as ingest keys new ones.
    first = worked_events()
    later = (worked_events(project="q", prefix="f") + worked_events(labeler="B", prefix="g")
             + [{**first[7], "id": "h0", "type": "annotation.deleted", "time": "2024-03-02T11:00:00Z"}])
    with open_database(database_url) as db:
        ingest(db, create_workspace(db, "acme"), validate_batch(first))
        before = _stats(db, get_workspace(db, "acme"))
        _image_facts_without_priors(db)
        _annotation_facts_keyed_by_text(db)
        with db.transaction() as tx:  # undo what migrations 3 to 6 changed
            tx.execute("ALTER TABLE session_images DROP COLUMN image_key")
            tx.execute("ALTER TABLE events ADD COLUMN key_hi BIGINT")
            tx.execute("ALTER TABLE events ADD COLUMN key_lo BIGINT")
            if db.dialect.name == "duckdb":
                tx.execute("DROP TABLE rollup_progress")
                tx.execute("ALTER TABLE events DROP COLUMN backlog_batch")
            else:
                tx.execute("DROP INDEX events_identity")
                tx.execute("CREATE UNIQUE INDEX events_identity ON events (workspace_id, key_hi, key_lo)")
            tx.execute("DELETE FROM schema_version WHERE version > 2")
    with open_database(database_url) as db:
        workspace = get_workspace(db, "acme")
        assert _stats(db, workspace) == before
        assert ingest(db, workspace, validate_batch(first + later)).accepted == len(later)
        expected = reference_stats(first + later, timezone="UTC", start=dt.date(2024, 3, 1),
                                   end=dt.date(2024, 3, 3), project=None, user_id=None)
        assert _stats(db, workspace)["stats"] == expected["stats"]


@pytest.mark.backends("duckdb")
def test_a_backlog_left_by_schema_5_is_applied_once_after_the_upgrade(database_url):
    """Schema 5 listed the events whose rollups were not applied in `rollup_backlog`; a
    store left so by a crash counts them exactly once after the upgrade."""
    events = worked_events()
    db = open_database(database_url)
    ingest(db, create_workspace(db, "acme"), validate_batch(events[:6]))  # backlogged
    with db.transaction() as tx:  # the backlog as schema 5 kept it
        tx.execute("CREATE TABLE rollup_backlog (batch_no BIGINT NOT NULL, "
                   "workspace_id INTEGER NOT NULL, event_id TEXT NOT NULL)")
        tx.execute("INSERT INTO rollup_backlog SELECT backlog_batch, workspace_id, event_id "
                   "FROM events WHERE backlog_batch IS NOT NULL")
    _image_facts_without_priors(db)
    _annotation_facts_keyed_by_text(db)
    with db.transaction() as tx:
        tx.execute("DROP TABLE rollup_progress")
        tx.execute("ALTER TABLE events DROP COLUMN backlog_batch")
        tx.execute("DELETE FROM schema_version WHERE version > 5")
    db._conn.close()  # the process dies before applying it
    expected = reference_stats(events, timezone="UTC", start=dt.date(2024, 3, 1),
                               end=dt.date(2024, 3, 3), project=None, user_id=None)
    with open_database(database_url) as db:
        workspace = get_workspace(db, "acme")
        assert ingest(db, workspace, validate_batch(events)).accepted == len(events) - 6
        assert _stats(db, workspace)["stats"] == expected["stats"]
    with open_database(database_url) as db:
        assert _stats(db, get_workspace(db, "acme"))["stats"] == expected["stats"]


def _primary_keys(db, tables: tuple[str, ...]) -> list[tuple[str]]:
    return db.read("SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' "
                   f"AND table_name IN ({', '.join(repr(table) for table in tables)}) ORDER BY table_name")


@pytest.mark.backends("duckdb")
def test_a_store_of_schema_9_merges_sessions_and_review_days_without_indexes_after_the_upgrade(database_url):
    # The later events fall on the same days, for the same labeler and project: each
    # session and review day of the upgraded copy is merged with the batch's, counted once.
    first, later = worked_events(), worked_events(prefix="f")
    rollups = ("review_days", "sessions")
    with open_database(database_url) as db:
        ingest(db, create_workspace(db, "acme"), validate_batch(first))
        before = _stats(db, get_workspace(db, "acme"))
        with db.transaction() as tx:  # the keys as schema 9 indexed them
            tx.execute("ALTER TABLE sessions ADD PRIMARY KEY (workspace_id, session_key)")
            tx.execute("ALTER TABLE review_days ADD PRIMARY KEY (workspace_id, project, labeler, review_date)")
            tx.execute("DELETE FROM schema_version WHERE version > 9")
        assert _primary_keys(db, rollups) == [("review_days",), ("sessions",)]
    with open_database(database_url) as db:
        assert _primary_keys(db, rollups) == []
        workspace = get_workspace(db, "acme")
        assert _stats(db, workspace) == before
        ingest(db, workspace, validate_batch(later))
        expected = reference_stats(first + later, timezone="UTC", start=dt.date(2024, 3, 1),
                                   end=dt.date(2024, 3, 3), project=None, user_id=None)
        answer = _stats(db, workspace)
        assert answer["stats"] == expected["stats"]
        assert [{key: row[key] for key in expected["data"][0]} for row in answer["data"]] == expected["data"]
