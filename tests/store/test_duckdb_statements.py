"""DuckDB statements parsed once a process (`store/duckdb_statements.py`): a repeated
answer parses nothing, and a parsed statement runs anywhere with its own parameters."""

from __future__ import annotations

import threading

import duckdb
import pytest

from annotation_insights.store import duckdb_statements
from annotation_insights.store.duckdb_statements import statement
from api.helpers import event, ingest_ok, stats_ok


class CountingParser:
    """The module's parser, counting the texts it is asked to parse."""

    def __init__(self, parser):
        self._parser = parser
        self.texts: list[str] = []

    def extract_statements(self, sql):
        self.texts.append(sql)
        return self._parser.extract_statements(sql)


@pytest.fixture
def parses(monkeypatch) -> CountingParser:
    """Counts from an empty memory: earlier tests of the process parsed most texts."""
    counting = CountingParser(duckdb_statements._parser)
    monkeypatch.setattr(duckdb_statements, "_parser", counting)
    monkeypatch.setattr(duckdb_statements, "_parsed", {})
    return counting


@pytest.mark.backends("duckdb")
def test_an_answer_asked_again_parses_nothing(client, tenant, parses):
    ingest_ok(client, tenant.write, [event("e1"), event("e2", labeler="bob"),
                                     event("r1", "image.approved", reviewer="carol", labeler="bob")])
    first = stats_ok(client, tenant.read)
    assert parses.texts, "the first answer parses its statements"
    parses.texts.clear()

    again = stats_ok(client, tenant.read)
    other_range = stats_ok(client, tenant.read, startDate="2024-03-01", endDate="2024-03-01")
    assert again == first and other_range["stats"] == first["stats"]
    assert parses.texts == []


def test_a_parsed_statement_runs_on_every_cursor_and_thread_with_its_own_parameters():
    connection = duckdb.connect(":memory:")
    parsed = statement("SELECT CAST(:n AS BIGINT) * 2 AS twice")
    assert statement("SELECT CAST(:n AS BIGINT) * 2 AS twice") is parsed
    answers: dict[int, list] = {}

    def run(n: int) -> None:
        cursor = connection.cursor()
        answers[n] = [cursor.execute(parsed, {"n": n * 100 + i}).fetchone()[0] for i in range(50)]
        cursor.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {n: [2 * (n * 100 + i) for i in range(50)] for n in range(6)}


def test_a_text_of_several_statements_runs_as_bound_text():
    text = statement("CREATE TABLE t AS SELECT 1 AS a; SELECT a + :b FROM t")
    assert text == "CREATE TABLE t AS SELECT 1 AS a; SELECT a + $b FROM t"
    assert duckdb.connect(":memory:").execute(text, {"b": 1}).fetchall() == [(2,)]


def test_the_parsed_statements_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(duckdb_statements, "_parsed", {})
    monkeypatch.setattr(duckdb_statements, "MAX_STATEMENTS", 3)
    connection = duckdb.connect(":memory:")
    for n in range(10):
        assert connection.execute(statement(f"SELECT {n} + :m"), {"m": 1}).fetchone() == (n + 1,)
        assert len(duckdb_statements._parsed) <= 3
