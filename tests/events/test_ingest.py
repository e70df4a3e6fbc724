"""Rollups maintained batch by batch: a batch that reaches sessions stored before it
merges its facts into theirs, and a late event earlier than a stored session's first
moves the session, and the facts that count its images, to the earlier date."""

from __future__ import annotations

import datetime as dt

from annotation_insights.events.ingest import ingest, ingest_in, validate_batch
from annotation_insights.metrics.definitions import session_facts
from annotation_insights.metrics.query import StatsQuery, run_stats
from annotation_insights.tenancy.workspaces import create_workspace
from support.reference_model import reference_stats

ROW_KEYS = ("projectId", "labelerId", "imagesLabeled", "boxesDrawn", "markedNull", "modelAssisted",
            "netBoxesAdded", "boxesAdded", "boxesRemoved", "boxesUpdated")
RANGES = (("2024-03-01", "2024-03-01"), ("2024-03-02", "2024-03-02"), ("2024-03-01", "2024-03-02"))


def _event(number: int, type_: str, time: str, image: str, annotation: str | None = None,
           **extra) -> dict:
    event = {"id": f"e{number}", "type": type_, "time": time, "project": "p", "image": image,
             "labeler": "A", "session": "s1", **extra}
    if annotation is not None:
        event["annotation"] = annotation
    return event


FIRST = [_event(1, "annotation.created", "2024-03-02T10:00:00Z", "img1", "a1"),
         _event(2, "image.marked_null", "2024-03-02T10:05:00Z", "img2"),
         _event(3, "annotation.created", "2024-03-02T11:00:00Z", "img4", "a4", session="s2")]
# Session s1 again: the same image and annotation, a new image, and an event a day
# before its first; session s2 again, later on its own date.
LATER = [_event(4, "annotation.deleted", "2024-03-02T12:00:00Z", "img1", "a1"),
         _event(5, "annotation.created", "2024-03-01T09:00:00Z", "img3", "a3", modelAssisted=True),
         _event(6, "annotation.updated", "2024-03-02T13:00:00Z", "img4", "a4", session="s2")]


def _answer(db, workspace, start: str, end: str) -> dict:
    answer = run_stats(db, workspace, StatsQuery.parse(start=start, end=end,
                                                       availability=dt.date(2023, 8, 1)))
    return {"data": [{key: row[key] for key in ROW_KEYS} for row in answer["data"]],
            "stats": answer["stats"]}


def _expected(events: list[dict], start: str, end: str) -> dict:
    expected = reference_stats(events, timezone="UTC", start=dt.date.fromisoformat(start),
                               end=dt.date.fromisoformat(end))
    return {"data": [{key: row[key] for key in ROW_KEYS} for row in expected["data"]],
            "stats": expected["stats"]}


def test_a_batch_merges_into_stored_sessions_and_moves_one_to_an_earlier_date(db):
    workspace = create_workspace(db, "acme")
    ingest(db, workspace, validate_batch(FIRST))
    # Reading applies the rollups, so the next batch finds its sessions stored.
    assert _answer(db, workspace, "2024-03-02", "2024-03-02") == _expected(FIRST, "2024-03-02", "2024-03-02")
    ingest(db, workspace, validate_batch(LATER))
    for start, end in RANGES:
        assert _answer(db, workspace, start, end) == _expected(FIRST + LATER, start, end), (start, end)
    # s1 now counts on March 1 with all three of its images; s2 stays on March 2.
    assert _answer(db, workspace, "2024-03-01", "2024-03-01")["stats"]["numImagesLabeled"] == 3
    assert _answer(db, workspace, "2024-03-02", "2024-03-02")["stats"]["numImagesLabeled"] == 1


def test_an_image_whose_session_moved_before_another_labeler_s_counts_once_on_each_date(db):
    # B labels img1 on March 2, A's explicit session s1 on March 3: A's fact comes after
    # B's. A late event of s1 on another image, on March 1, moves s1 and its stored img1
    # fact before B's, which the batch does not touch: counted over March 1 alone only if
    # the move also recomputed where img1's facts stand in order.
    workspace = create_workspace(db, "acme")
    first = [_event(1, "annotation.created", "2024-03-03T10:00:00Z", "img1", "a1"),
             _event(2, "annotation.created", "2024-03-02T10:00:00Z", "img1", "a2", labeler="B", session=None)]
    later = [_event(3, "annotation.created", "2024-03-01T10:00:00Z", "img2", "a3")]
    ingest(db, workspace, validate_batch(first))
    assert _answer(db, workspace, "2024-03-03", "2024-03-03") == _expected(first, "2024-03-03", "2024-03-03")
    ingest(db, workspace, validate_batch(later))
    for start, end in (*RANGES, ("2024-03-02", "2024-03-03")):
        assert _answer(db, workspace, start, end) == _expected(first + later, start, end), (start, end)
    assert _answer(db, workspace, "2024-03-01", "2024-03-01")["stats"]["numImagesLabeled"] == 2


def test_batches_stored_in_one_transaction_merge_into_the_facts_the_first_stored(db):
    """A connector may store several batches in a transaction of its own: the later ones
    find, and change, the sessions and facts written before them in it. The third batch
    deletes a1 again (a tool's re-sent delete, with a new id): it changes nothing only if
    the second one's delete was stored on a1's own fact."""
    workspace = create_workspace(db, "acme")
    again = [_event(7, "annotation.deleted", "2024-03-02T14:00:00Z", "img1", "a1")]
    with db.transaction() as tx:
        for events in (FIRST, LATER, again):
            batch = validate_batch(events)
            ingest_in(tx, workspace, batch, session_facts(batch.table, workspace.timezone))
    for start, end in RANGES:
        assert _answer(db, workspace, start, end) == _expected(FIRST + LATER + again, start, end), (start, end)


def test_flags_later_batches_set_on_stored_facts_count_once(db):
    """Each batch is applied after a read, so each finds the facts before it stored: the
    second marks a labeled image null and deletes its box, the third re-sends both (new
    ids, as a labeling tool does). The image counts as marked null once, in the totals of
    distinct images too, and the box is taken off the net count once."""
    workspace = create_workspace(db, "acme")
    batches = ([_event(1, "annotation.created", "2024-03-02T10:00:00Z", "img1", "a1")],
               [_event(2, "image.marked_null", "2024-03-02T10:05:00Z", "img1"),
                _event(3, "annotation.deleted", "2024-03-02T10:06:00Z", "img1", "a1")],
               [_event(4, "image.marked_null", "2024-03-02T10:07:00Z", "img1"),
                _event(5, "annotation.deleted", "2024-03-02T10:08:00Z", "img1", "a1")])
    sent = []
    for batch in batches:
        ingest(db, workspace, validate_batch(batch))
        sent += batch
        day = "2024-03-02"
        assert _answer(db, workspace, day, day) == _expected(sent, day, day)
    answer = _answer(db, workspace, "2024-03-02", "2024-03-02")
    assert answer["stats"]["numImagesMarkedNull"] == 1
    assert answer["data"][0]["markedNull"] == 1
    assert answer["data"][0]["netBoxesAdded"] == 0
