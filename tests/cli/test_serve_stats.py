"""`serve` over real HTTP, stopped by SIGTERM; then `stats` answers exactly what HTTP answered.

One server per backend: the module fixture creates the workspace and key with the CLI,
serves the store (named only by ANNOTATION_INSIGHTS_DATABASE, as a deployment would),
ingests the SPEC §8 worked example twice — (project p, labeler A) and (project q,
labeler B) — records the HTTP answers, and stops the server.
"""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import httpx
import pytest

from annotation_insights.metrics.export import COLUMNS

from support.worked_example import WORKED_RANGE, WORKED_ROW, WORKED_TOTALS, worked_events

from .helpers import Server, assert_one_line_error, check, clean_env, create_key, run_cli

START, END = WORKED_RANGE["startDate"], WORKED_RANGE["endDate"]
FILTERS = {"all": {}, "project q": {"project": "q"}, "user A": {"userId": "A"}}


@pytest.fixture(scope="module")
def served(module_database):
    database, workdir = module_database
    check(run_cli("workspace", "create", "acme", "--name", "Acme", "--timezone", "UTC",
                  database=database, cwd=workdir))
    key = create_key(database, "acme", cwd=workdir)
    server = Server(workdir, env=clean_env(ANNOTATION_INSIGHTS_DATABASE=database))
    with server, httpx.Client(base_url=server.url, timeout=10) as http:
        health = server.wait_healthy()
        auth = {"Authorization": f"Bearer {key}"}
        ingested = [http.post("/acme/events", json=worked_events("p", "A", "e"), headers=auth),
                    http.post("/acme/events", json=worked_events("q", "B", "f"), headers=auth),
                    http.post("/acme/events", json=worked_events("q", "B", "f"), headers=auth)]
        answers = {name: http.get("/acme/stats", params={"api_key": key, **WORKED_RANGE, **params})
                   for name, params in FILTERS.items()}
        stopped = server.stop()
    return SimpleNamespace(database=database, workdir=workdir, health=health, ingested=ingested,
                           answers=answers, stopped=stopped, log=server.log())


def cli_stats(served, *args: str) -> str:
    return check(run_cli("stats", "acme", "--start", START, "--end", END, *args,
                         database=served.database, cwd=served.workdir)).stdout


def expected_row(project: str, labeler: str) -> dict:
    return {"projectId": project, "labelerId": labeler, **WORKED_ROW}


def test_http_ingest_and_stats_follow_the_worked_example(served, module_database):
    assert served.health["status"] == "ok"
    assert served.health["backend"] == ("duckdb" if module_database[0].endswith(".duckdb") else "postgresql")
    assert [r.json() for r in served.ingested] == [
        {"accepted": 10, "duplicates": 0}, {"accepted": 10, "duplicates": 0},
        {"accepted": 0, "duplicates": 10}]
    bodies = {name: r.json() for name, r in served.answers.items()}
    assert all(r.status_code == 200 for r in served.answers.values()), bodies

    for name, (project, labeler) in {"project q": ("q", "B"), "user A": ("p", "A")}.items():
        (row,) = bodies[name]["data"]
        assert {k: row[k] for k in expected_row(project, labeler)} == expected_row(project, labeler)
        assert bodies[name]["stats"] == WORKED_TOTALS
        assert [lab["id"] for lab in bodies[name]["labelers"]] == [labeler]

    everything = bodies["all"]
    assert [(r["projectId"], r["labelerId"]) for r in everything["data"]] == [("p", "A"), ("q", "B")]
    assert everything["stats"] == {k: (v if k == "approvalRate" else 2 * v) for k, v in WORKED_TOTALS.items()}


def test_sigterm_stops_the_server_cleanly(served):
    code, seconds = served.stopped
    assert code == 0, served.log
    assert seconds < 5, served.log
    assert "Application shutdown complete" in served.log
    assert "Traceback" not in served.log


@pytest.mark.parametrize(("name", "flags"), [
    ("all", []), ("project q", ["--project", "q"]), ("user A", ["--user", "A"])])
def test_stats_json_equals_the_http_answer(served, name, flags):
    assert json.loads(cli_stats(served, "--format", "json", *flags)) == served.answers[name].json()


def test_stats_csv_has_the_header_and_the_rows_numbers(served):
    text = cli_stats(served, "--format", "csv", "--user", "A")
    lines = text.splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 2
    (row,) = csv.DictReader(io.StringIO(text))
    (http_row,) = served.answers["user A"].json()["data"]
    assert row == {column: str(http_row[column]) for column in COLUMNS}
    assert {k: row[k] for k in WORKED_ROW} == {k: str(v) for k, v in WORKED_ROW.items()}


def test_stats_table_shows_the_row_and_the_totals(served):
    text = cli_stats(served, "--project", "q")
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines()
             if line.startswith("│")]
    # project, labeler, images, added, removed, updated, drawn, net added, null, assisted,
    # approved, rejected, approval %
    assert ["q", "B", "3", "3", "2", "1", "1", "2", "1", "2", "1", "0", "100"] in cells
    assert ["numImagesLabeled", "2"] in cells and ["numBoxesAdded", "3"] in cells
    # Piped output is not cut to 80 columns: every name and heading is whole.
    assert "…" not in text, text
    headings = [line for line in text.splitlines() if line.startswith("┃")]
    assert any("net added" in line and "approval %" in line for line in headings), text
    assert "2023-08-01" in text  # the data-availability notice


def test_stats_refusals_are_one_clear_line(served):
    assert_one_line_error(run_cli("stats", "acme", "--start", END, "--end", START, database=served.database,
                                  cwd=served.workdir), START, END)
    assert_one_line_error(run_cli("stats", "acme", "--start", START, "--end", END, "--project", "nope",
                                  database=served.database, cwd=served.workdir), "nope")
