"""Staged relations: what a transaction's statements join, holding exactly what was
staged last in that transaction, on both backends (PostgreSQL keeps its temporary
tables across transactions and empties them at each commit)."""

from __future__ import annotations

import pytest

COLUMNS = (("image", "TEXT"), ("boxes", "BIGINT"))
STAGED = "SELECT image, boxes FROM stage_probe ORDER BY image"
BUSY = "SELECT image FROM stage_probe WHERE boxes >= :at_least"
QUERIED = "SELECT image FROM busy_probe ORDER BY image"


def test_staging_a_name_again_replaces_its_rows(db):
    with db.transaction() as tx:
        tx.stage("stage_probe", COLUMNS, [("a", 1), ("b", 2)])
        tx.stage("stage_probe", COLUMNS, [("c", 3)])
        assert tx.execute(STAGED) == [("c", 3)]
        tx.stage_query("busy_probe", BUSY, {"at_least": 3})
        tx.stage("stage_probe", COLUMNS, [("d", 4), ("e", 5)])
        tx.stage_query("busy_probe", BUSY, {"at_least": 5})
        assert tx.execute(QUERIED) == [("e",)]


def test_a_transaction_sees_none_of_what_an_earlier_one_staged(db):
    for rows, at_least, busy in (([("a", 1), ("b", 9)], 5, [("b",)]), ([("c", 7)], 1, [("c",)])):
        with db.transaction() as tx:
            tx.stage("stage_probe", COLUMNS, rows)
            tx.stage_query("busy_probe", BUSY, {"at_least": at_least})
            assert tx.execute(STAGED) == rows
            assert tx.execute(QUERIED) == busy


def test_staging_works_after_a_transaction_that_staged_first_rolled_back(db):
    with pytest.raises(RuntimeError):
        with db.transaction() as tx:
            tx.stage("stage_probe", COLUMNS, [("a", 1)])
            tx.stage_query("busy_probe", BUSY, {"at_least": 1})
            raise RuntimeError("the batch failed")
    with db.transaction() as tx:
        tx.stage("stage_probe", COLUMNS, [("b", 2)])
        tx.stage_query("busy_probe", BUSY, {"at_least": 1})
        assert tx.execute(STAGED) == [("b", 2)]
        assert tx.execute(QUERIED) == [("b",)]
