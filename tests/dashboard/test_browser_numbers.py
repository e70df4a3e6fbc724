"""In Chromium: every number the dashboard shows equals the stats API, whatever the filters."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlparse

from dashboard.browsing import act, check_matches_api, number, sign_in, view, wait_loaded
from dashboard.seeding import HOSTILE_LABELER


def days_ago(live, n: int) -> str:
    return (live.today - dt.timedelta(days=n)).isoformat()


def test_numbers_follow_presets_filters_and_granularity(page, live):
    sign_in(page, live)
    query = parse_qs(urlparse(page.url).query)
    # The presets count back from the workspace's today (UTC here), not the browser's (UTC+14).
    assert (query["startDate"], query["endDate"]) == ([days_ago(live, 29)], [live.today.isoformat()])
    first = check_matches_api(page, live)
    assert len(first["stats"]["data"]) >= 6 and len(first["shown"]["approval"]) >= 4

    act(page, lambda: page.click("[data-preset='7d']"))
    assert parse_qs(urlparse(page.url).query)["startDate"] == [days_ago(live, 6)]
    assert page.locator("[data-preset='7d']").get_attribute("aria-pressed") == "true"
    check_matches_api(page, live)

    act(page, lambda: page.click("[data-preset='90d']"))
    act(page, lambda: page.click("[data-granularity='week']"))
    weekly = check_matches_api(page, live)
    assert weekly["series"]["granularity"] == "week"
    assert {p for _, p, _ in weekly["shown"]["images"]} <= {p["period"] for p in weekly["series"]["periods"]}
    assert page.locator("#images-title").inner_text() == "Images labeled per week"

    project = weekly["stats"]["data"][0]["projectId"]
    act(page, lambda: page.select_option("#project-filter", project))
    narrowed = check_matches_api(page, live)
    assert {r["projectId"] for r in narrowed["stats"]["data"]} == {project}

    labeler = narrowed["stats"]["data"][-1]["labelerId"]
    act(page, lambda: page.select_option("#labeler-filter", labeler))
    one = check_matches_api(page, live)
    assert [(r["projectId"], r["labelerId"]) for r in one["stats"]["data"]] == [(project, labeler)]
    assert one["shown"]["legend"] == [labeler]

    act(page, lambda: page.select_option("#project-filter", ""))
    act(page, lambda: page.click("[data-preset='month']"))
    assert parse_qs(urlparse(page.url).query)["startDate"] == [live.today.replace(day=1).isoformat()]
    check_matches_api(page, live)

    act(page, lambda: page.select_option("#labeler-filter", ""))
    act(page, lambda: page.fill("#start-date", days_ago(live, 45)))
    act(page, lambda: page.fill("#end-date", days_ago(live, 20)))
    assert page.locator("[data-preset='custom']").get_attribute("aria-pressed") == "true"
    check_matches_api(page, live)


def test_worked_example_shows_spec_numbers_and_hostile_names_as_text(page, live):
    sign_in(page, live, "handmade", live.handmade_key, "?startDate=2024-03-01&endDate=2024-03-02")
    shown = check_matches_api(page, live, "handmade", live.handmade_key)["shown"]
    # SPEC §8, independently of the API: what a manager reads off the page.
    assert {k: number(v) for k, v in shown["tiles"].items()} == {
        "imagesLabeled": 3, "numImagesLabeled": 2, "numBoxesDrawn": 1, "netBoxesAdded": 2,
        "numImagesMarkedNull": 1, "totalImagesUsingModelAssist": 2, "approvalRate": 100}
    (row,) = shown["rows"]
    assert {k: number(row[k]) for k in ("boxesAdded", "boxesRemoved", "boxesUpdated", "boxesDrawn",
                                        "netBoxesAdded", "imagesLabeled", "markedNull", "modelAssisted",
                                        "approved", "rejected", "approvalRate")} == {
        "boxesAdded": 3, "boxesRemoved": 2, "boxesUpdated": 1, "boxesDrawn": 1, "netBoxesAdded": 2,
        "imagesLabeled": 3, "markedNull": 1, "modelAssisted": 2, "approved": 1, "rejected": 0,
        "approvalRate": 100}
    assert row["labeler"] == HOSTILE_LABELER
    assert row["labeler_text"] == "Ann <b>O'Brien</b>, QA" + HOSTILE_LABELER
    assert row["project_text"].startswith('Boats, "big" ones')
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("#labelers-table img, #chart-images img").count() == 0
    assert page.locator("#workspace-tz").inner_text() == "Europe/Berlin"
    assert [s for s, _, _ in shown["images"]] == [HOSTILE_LABELER, HOSTILE_LABELER]

    # One day later the rejection is in range: 1 of 2 reviews approved.
    act(page, lambda: page.fill("#end-date", "2024-03-03"))
    shown = check_matches_api(page, live, "handmade", live.handmade_key)["shown"]
    assert shown["tiles"]["approvalRate"] == "50%" and shown["total"]["approvalRate"] == "50%"


def test_empty_range_and_api_errors_are_shown_plainly(page, live):
    sign_in(page, live, query="?startDate=2024-01-01&endDate=2024-01-31")
    shown = view(page)
    assert {k: number(v) for k, v in shown["tiles"].items()} == {
        "imagesLabeled": 0, "numImagesLabeled": 0, "numBoxesDrawn": 0, "netBoxesAdded": 0,
        "numImagesMarkedNull": 0, "totalImagesUsingModelAssist": 0, "approvalRate": None}
    assert shown["rows"] == [] and shown["images"] == [] and shown["boxes"] == []
    assert "No labeling activity in this range" in page.locator("#labelers-table").inner_text()
    assert page.locator("#chart-images").inner_text() == "No labeling activity in this range."
    act(page, lambda: page.click("#labelers-table .table-empty button"))
    assert number(view(page)["tiles"]["imagesLabeled"]) > 0

    # The API refuses an inverted range; its message is on the page and no stale number stays.
    act(page, lambda: page.fill("#end-date", days_ago(live, 3)))
    act(page, lambda: page.fill("#start-date", live.today.isoformat()))
    banner = page.locator("#error-banner")
    assert banner.is_visible()
    assert "is after endDate" in banner.inner_text() and "HTTP 400" in banner.inner_text()
    assert view(page)["tiles"] == {} and view(page)["rows"] == []

    page.goto(f"{live.url}/demo/insights?startDate=2024-03-01&endDate=2024-03-02&project=no-such")
    wait_loaded(page)
    assert "No project 'no-such'" in page.locator("#error-banner").inner_text()
    assert "HTTP 404" in page.locator("#error-banner").inner_text()
