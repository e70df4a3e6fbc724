"""The dashboard's HTTP surface on both backends: time series, stats.csv, the page and its assets."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from annotation_insights.demo.generator import DemoSpec
from annotation_insights.metrics.export import COLUMNS
from dashboard.seeding import load_demo, worked_events

STATS_FIELDS = {
    "numImagesLabeled": "numImagesLabeled", "numImagesMarkedNull": "numImagesMarkedNull",
    "totalImagesUsingModelAssist": "totalImagesUsingModelAssist", "numBoxesAdded": "boxesAdded",
    "numBoxesRemoved": "boxesRemoved", "numBoxesUpdated": "boxesUpdated", "numBoxesDrawn": "boxesDrawn",
    "netBoxesAdded": "netBoxesAdded", "netBoxesUpdated": "netBoxesUpdated", "approvalRate": "approvalRate",
}
ADDITIVE = ("imagesLabeled", "boxesDrawn", "markedNull", "modelAssisted", "approved", "rejected",
            "netBoxesAdded", "netBoxesUpdated", "boxesAdded", "boxesRemoved", "boxesUpdated")
SMALL = DemoSpec(seed=11, days=20, labelers=3, projects=2, end=dt.date(2026, 5, 6),
                 images_per_labeler_day=4, boxes_per_image=2)


def get(client, path, key, **params):
    return client.get(path, params=params, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def worked(client, tenant):
    r = client.post("/acme/events", json=worked_events(project="p"),
                    headers={"Authorization": f"Bearer {tenant.write}"})
    assert r.status_code == 200, r.text
    return tenant


# --- GET /{workspace}/stats/timeseries ------------------------------------------------------

def test_worked_example_day_by_day(client, worked):
    r = get(client, "/acme/stats/timeseries", worked.read, startDate="2024-03-01",
            endDate="2024-03-04", granularity="day", groupBy="labeler")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["workspace"], body["granularity"], body["groupBy"]) == ("acme", "day", "labeler")
    assert body["groups"] == [{"id": "A", "name": "A"}]
    day1, day2, day3, day4 = body["periods"]
    assert {k: day1[k] for k in ("period", "boxesAdded", "boxesRemoved", "boxesUpdated", "netBoxesAdded",
                                 "imagesLabeled", "markedNull", "modelAssisted", "numImagesLabeled",
                                 "approvalRate")} == {
        "period": "2024-03-01", "boxesAdded": 2, "boxesRemoved": 1, "boxesUpdated": 1, "netBoxesAdded": 1,
        "imagesLabeled": 2, "markedNull": 1, "modelAssisted": 1, "numImagesLabeled": 2, "approvalRate": None}
    assert (day2["boxesAdded"], day2["boxesRemoved"], day2["boxesDrawn"], day2["approved"],
            day2["approvalRate"], day2["totalImagesUsingModelAssist"]) == (1, 1, 0, 1, 100, 1)
    assert (day3["rejected"], day3["approvalRate"], day3["imagesLabeled"]) == (1, 0, 0)
    assert day4 == {"period": "2024-03-04", "startDate": "2024-03-04", "endDate": "2024-03-04",
                    **{f: 0 for f in ADDITIVE}, "approvalRate": None, "numImagesLabeled": 0,
                    "numImagesMarkedNull": 0, "totalImagesUsingModelAssist": 0, "groups": []}
    metrics = {k: v for k, v in day1.items() if k not in ("period", "startDate", "endDate", "groups")}
    assert day1["groups"] == [{"id": "A", **metrics}]
    assert body["total"]["approvalRate"] == 50 and body["total"]["numImagesLabeled"] == 2
    assert set(body["meta"]["nonAdditive"]) == {"numImagesLabeled", "numImagesMarkedNull",
                                                "totalImagesUsingModelAssist", "approvalRate"}


def test_series_adds_up_to_stats_and_each_period_is_stats(client, tenant, db):
    load_demo(db, tenant.workspace, SMALL)
    start, end = "2026-04-17", "2026-05-06"
    stats = get(client, "/acme/stats", tenant.read, startDate=start, endDate=end).json()
    days = get(client, "/acme/stats/timeseries", tenant.read, startDate=start, endDate=end).json()
    assert len(days["periods"]) == 20
    for field in ADDITIVE:
        assert sum(p[field] for p in days["periods"]) == sum(r[field] for r in stats["data"]), field
    for stats_field, field in STATS_FIELDS.items():
        assert days["total"][field] == stats["stats"][stats_field], field
    weeks = get(client, "/acme/stats/timeseries", tenant.read, startDate=start, endDate=end,
                granularity="week", groupBy="project").json()
    assert [p["period"] for p in weeks["periods"]] == ["2026-04-13", "2026-04-20", "2026-04-27", "2026-05-04"]
    for period in weeks["periods"]:
        alone = get(client, "/acme/stats", tenant.read, startDate=period["startDate"],
                    endDate=period["endDate"]).json()
        assert {f: period[f] for f in STATS_FIELDS.values()} == \
               {f: alone["stats"][s] for s, f in STATS_FIELDS.items()}, period["period"]


def test_timeseries_errors_use_the_one_error_shape(client, worked):
    cases = [({"startDate": "2024-03-01"}, 400, "endDate"),
             ({"startDate": "2024-03-01", "endDate": "2024-03-02", "granularity": "hour"}, 400, "granularity"),
             ({"startDate": "2024-03-01", "endDate": "2024-03-02", "groupBy": "class"}, 400, "groupBy"),
             ({"startDate": "2024-01-01", "endDate": "2099-01-01"}, 400, "periods"),
             ({"startDate": "2024-03-01", "endDate": "2024-03-02", "project": "nope"}, 404, "nope")]
    for params, status, word in cases:
        r = get(client, "/acme/stats/timeseries", worked.read, **params)
        assert r.status_code == status, (params, r.text)
        assert word in r.json()["error"]["message"]
    assert client.get("/acme/stats/timeseries", params={"startDate": "2024-03-01",
                                                        "endDate": "2024-03-02"}).status_code == 401
    assert get(client, "/acme/stats/timeseries", worked.write, startDate="2024-03-01",
               endDate="2024-03-02").status_code == 403
    r = client.get("/acme/stats/timeseries", params={"api_key": worked.read, "startDate": "2024-03-01",
                                                     "endDate": "2024-03-02"})
    assert r.status_code == 200 and len(r.json()["periods"]) == 2


# --- GET /{workspace}/stats.csv -------------------------------------------------------------

def test_stats_csv_is_the_stats_rows(client, worked):
    client.put("/acme/projects/p", json={"name": 'Boats, "big" ones', "type": "object-detection"},
               headers={"Authorization": f"Bearer {worked.admin}"})
    params = {"startDate": "2024-03-01", "endDate": "2024-03-03"}
    r = get(client, "/acme/stats.csv", worked.read, **params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="acme-stats-2024-03-01-2024-03-03.csv"'
    assert r.text.splitlines()[0] == ",".join(COLUMNS)
    assert '"Boats, ""big"" ones"' in r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    data = get(client, "/acme/stats", worked.read, **params).json()["data"]
    assert rows == [{k: "" if row[k] is None else str(row[k]) for k in COLUMNS} for row in data]
    assert rows[0]["approvalRate"] == "50" and rows[0]["boxesAdded"] == "3"


def test_stats_csv_filters_and_errors(client, worked):
    empty = get(client, "/acme/stats.csv", worked.read, startDate="2024-03-01", endDate="2024-03-03",
                userId="nobody")
    assert empty.status_code == 200 and empty.text == ",".join(COLUMNS) + "\n"
    bad = get(client, "/acme/stats.csv", worked.read, startDate="2024-03-05", endDate="2024-03-01")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
    assert get(client, "/acme/stats.csv", worked.read, startDate="2024-03-01", endDate="2024-03-02",
               project="nope").status_code == 404
    assert client.get("/acme/stats.csv?startDate=2024-03-01&endDate=2024-03-02").status_code == 401
    assert get(client, "/other/stats.csv", worked.read, startDate="2024-03-01",
               endDate="2024-03-02").status_code == 403


# --- the page, its assets and its context ----------------------------------------------------

def test_page_is_served_without_a_key_and_locks_down_its_origin(client, tenant):
    r = client.get("/acme/insights")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "script-src 'self'" in csp
    assert tenant.read not in r.text
    assert '"csvColumns": ' + str(list(COLUMNS)).replace("'", '"') in r.text
    assets = re.findall(r'(?:src|href)="(/assets/insights/[^"]+)"', r.text)
    assert {a.split("?")[0].rsplit("/", 1)[1] for a in assets} == {
        "favicon.svg", "insights.css", "charts.js", "views.js", "insights.js"}
    for asset in assets:
        got = client.get(asset)
        assert got.status_code == 200, asset
        assert "immutable" in got.headers["cache-control"]
        # Offline: nothing in the page or its assets names another host (the SVG namespace is a name).
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", got.text), asset
        assert "@import" not in got.text and "fonts.googleapis" not in got.text
    assert client.get("/assets/insights/insights.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/assets/insights/../app.py").status_code == 404
    assert client.get("/assets/insights/nope.js").status_code == 404
    assert client.get("/Not_A_Slug/insights").status_code == 404


def test_context_names_filters_and_local_today(client, worked):
    client.put("/acme/labelers/autolabelservice",
               json={"displayName": "Robot", "email": "r@x.io", "system": True},
               headers={"Authorization": f"Bearer {worked.admin}"})
    r = get(client, "/acme/insights/context", worked.read)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["workspace"] == {"slug": "acme", "name": "acme", "timezone": "UTC"}
    assert body["today"] == dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert body["projects"] == [{"slug": "p", "name": "p", "type": "object-detection"}]
    assert body["labelers"] == [{"id": "A", "displayName": "A", "email": None},
                                {"id": "autolabelservice", "displayName": "autolabelservice", "email": None}]
    assert client.get("/acme/insights/context").status_code == 401
    assert get(client, "/acme/insights/context", worked.write).status_code == 403
    assert get(client, "/other/insights/context", worked.read).status_code == 403
