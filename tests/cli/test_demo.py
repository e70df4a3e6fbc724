"""`annotation-insights demo`: the README's first command, on the default DuckDB file."""

from __future__ import annotations

import datetime as dt
import re

import httpx

from .helpers import Server, check, free_port, run_cli

KEY = re.compile(r"ai_[0-9a-f]{12}_\S{20,}")


def test_demo_builds_a_workspace_whose_printed_key_reads_its_stats(tmp_path):
    port = free_port()
    first = check(run_cli("demo", "--no-serve", "--port", str(port), cwd=tmp_path, timeout=120))
    assert (tmp_path / "annotation-insights.duckdb").exists()  # the default store, in the cwd
    assert f"http://127.0.0.1:{port}/demo/insights" in first.stdout
    key = first.stdout.splitlines()[-1]
    assert KEY.fullmatch(key), first.stdout

    # Running it again keeps the data and hands out another key.
    again = check(run_cli("demo", "--no-serve", "--port", str(port), cwd=tmp_path))
    assert "already exists" in again.stderr
    second_key = again.stdout.splitlines()[-1]
    assert KEY.fullmatch(second_key) and second_key != key

    today = dt.date.today()
    last_30_days = {"startDate": (today - dt.timedelta(days=29)).isoformat(), "endDate": today.isoformat()}
    with Server(tmp_path) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        answers = [http.get("/demo/stats", params={"api_key": k, **last_30_days}) for k in (key, second_key)]
        assert [a.status_code for a in answers] == [200, 200], answers[0].text
        assert answers[0].json() == answers[1].json()
        body = answers[0].json()
        assert len({row["projectId"] for row in body["data"]}) > 1
        assert len({row["labelerId"] for row in body["data"]}) > 1
        totals = body["stats"]
        assert totals["numImagesLabeled"] > 0 and totals["numBoxesAdded"] > 0
        assert totals["numBoxesUpdated"] > 0 and totals["numImagesMarkedNull"] > 0
        assert totals["totalImagesUsingModelAssist"] > 0 and totals["approvalRate"] is not None
        # The printed key is for looking, not for writing.
        denied = http.post("/demo/events", json=[], headers={"Authorization": f"Bearer {key}"})
        assert denied.status_code == 403
        assert server.stop()[0] == 0, server.log()
