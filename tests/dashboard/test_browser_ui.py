"""In Chromium: signing in, sorting, exporting, sharing a view, and the layout at two sizes."""

from __future__ import annotations

import csv
import io
import shlex
from urllib.parse import parse_qs, urlparse

import httpx

from annotation_insights.metrics.export import COLUMNS
from dashboard.browsing import (
    ARTIFACTS, DESKTOP, PHONE, act, check_matches_api, filters, number, sign_in, view, wait_loaded)


def submit_key(page, key: str) -> str:
    page.fill("#api-key", key)
    page.click("#signin-submit")
    error = page.locator("#signin-error")
    error.wait_for(state="visible")
    return error.inner_text()


def test_sign_in_explains_refusals_and_keeps_the_key_out_of_the_url(page, live):
    page.goto(f"{live.url}/demo/insights")
    assert page.locator("#signin").is_visible() and not page.locator("#dashboard").is_visible()
    page.click("#signin-submit")
    assert page.locator("#signin-error").inner_text() == "Paste an API key first."
    assert "revoked" in submit_key(page, live.revoked_key)
    assert "belongs to another workspace" in submit_key(page, live.handmade_key)
    assert "lacks the 'read' scope" in submit_key(page, live.write_only_key)
    assert "does not exist" in submit_key(page, "ai_nope_nope")

    page.fill("#api-key", live.demo_key)
    act(page, lambda: page.click("#signin-submit"))
    assert page.locator("#workspace-name").inner_text() == "Demo Vision Team · demo"
    assert live.demo_key not in page.url and "ai_" not in page.url
    assert page.evaluate("() => sessionStorage.getItem('annotation-insights:key:demo')") == live.demo_key
    assert page.evaluate("() => localStorage.length") == 0

    page.reload()
    wait_loaded(page)
    assert not page.locator("#signin").is_visible()
    page.click("#sign-out")
    assert page.locator("#signin").is_visible()
    assert page.evaluate("() => sessionStorage.length") == 0


def table_column(page, field: str) -> list:
    return [number(t) for t in page.locator(f"#labelers-table tbody td[data-field='{field}']").all_inner_texts()]


def test_sort_download_and_copy_as_api_call(new_context, live):
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page = context.new_page()
    sign_in(page, live)
    images = table_column(page, "imagesLabeled")
    assert images == sorted(images, reverse=True)

    header = page.locator("#labelers-table th[data-field='boxesRemoved'] button")
    header.click()
    assert table_column(page, "boxesRemoved") == sorted(table_column(page, "boxesRemoved"), reverse=True)
    header.click()
    removed = table_column(page, "boxesRemoved")
    assert removed == sorted(removed)
    assert page.locator("th[data-field='boxesRemoved']").get_attribute("aria-sort") == "ascending"
    assert parse_qs(urlparse(page.url).query)["sort"] == ["boxesRemoved:asc"]
    page.locator("th[data-field='labeler'] button").click()
    names = page.locator("#labelers-table tbody td[data-field='labeler'] .who-name").all_inner_texts()
    assert [n.lower() for n in names] == sorted(n.lower() for n in names)

    with page.expect_download() as download:
        page.click("#download-csv")
    params = filters(page)
    assert download.value.suggested_filename == f"demo-stats-{params['startDate']}-{params['endDate']}.csv"
    text = open(download.value.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(COLUMNS)
    shown = view(page)["rows"]
    assert [(r["projectId"], r["labelerId"]) for r in rows] == [(r["project"], r["labeler"]) for r in shown]
    server = live.get("/demo/stats.csv", **params).text
    assert sorted(text.splitlines()) == sorted(server.splitlines())

    page.click("#copy-api")
    command = page.evaluate("() => navigator.clipboard.readText()")
    assert page.locator("#toast").inner_text().startswith("Copied: curl")
    argv = shlex.split(command)
    assert argv[:3] == ["curl", "-H", "Authorization: Bearer $ANNOTATION_INSIGHTS_KEY"]
    assert "ai_" not in command
    answer = httpx.get(argv[3], headers={"Authorization": f"Bearer {live.demo_key}"}).json()
    assert answer == live.stats(**params)


def test_a_shared_link_restores_the_view_and_history_walks_back(new_context, live):
    first = new_context().new_page()
    sign_in(first, live)
    project = live.stats(**filters(first))["data"][0]
    act(first, lambda: first.select_option("#project-filter", project["projectId"]))
    act(first, lambda: first.click("[data-granularity='week']"))
    first.locator("th[data-field='boxesAdded'] button").click()
    first.locator("th[data-field='boxesAdded'] button").click()
    link = first.url

    other = new_context().new_page()   # another person: no key in their browser yet
    other.goto(link)
    assert other.locator("#signin").is_visible()
    other.fill("#api-key", live.demo_key)
    act(other, lambda: other.click("#signin-submit"))
    assert other.url == link
    assert other.locator("#project-filter").input_value() == project["projectId"]
    assert other.locator("[data-granularity='week']").get_attribute("aria-pressed") == "true"
    assert other.locator("th[data-field='boxesAdded']").get_attribute("aria-sort") == "ascending"
    check_matches_api(other, live)

    act(other, lambda: other.click("[data-preset='7d']"))
    act(other, lambda: other.go_back())
    assert other.url == link
    assert check_matches_api(other, live)["series"]["granularity"] == "week"


def layout(page) -> dict:
    return page.evaluate("""() => ({
      pageWidth: document.documentElement.scrollWidth,
      tileTops: [...document.querySelectorAll('[data-kpi]')].map((t) => Math.round(t.getBoundingClientRect().top)),
      tileWidths: [...document.querySelectorAll('[data-kpi]')].map((t) => Math.round(t.getBoundingClientRect().width)),
      chartWidths: [...document.querySelectorAll('.chart svg')].map((s) => Math.round(s.getBoundingClientRect().width)),
      table: (() => { const w = document.querySelector('.table-wrap'); return [w.scrollWidth, w.clientWidth]; })(),
      smallestText: Math.min(...[...document.querySelectorAll('.kpi-value, td, .legend li, .chart text')]
        .map((n) => parseFloat(getComputedStyle(n).fontSize))),
    })""")


def test_layout_at_1280_and_phone_width_with_screenshots(new_context, live):
    ARTIFACTS.mkdir(exist_ok=True)
    desktop = new_context(DESKTOP).new_page()
    desktop.goto(f"{live.url}/demo/insights")
    desktop.screenshot(path=str(ARTIFACTS / "dashboard-signin.png"))
    desktop.fill("#api-key", live.demo_key)
    act(desktop, lambda: desktop.click("#signin-submit"))
    wide = layout(desktop)
    assert wide["pageWidth"] <= DESKTOP["width"]
    assert len(set(wide["tileTops"])) == 1, "the seven KPI tiles share one row at 1280 px"
    assert wide["table"][0] <= wide["table"][1], "the labeler table fits at 1280 px"
    assert min(wide["chartWidths"]) > 500 and wide["smallestText"] >= 11
    bar = desktop.locator("#chart-images .hover-band").nth(25)
    bar.hover()
    assert desktop.locator("#tooltip").is_visible()
    desktop.screenshot(path=str(ARTIFACTS / "dashboard-desktop.png"))
    desktop.screenshot(path=str(ARTIFACTS / "dashboard-desktop-full.png"), full_page=True)

    phone = new_context(PHONE, is_mobile=True, has_touch=True).new_page()
    phone.goto(f"{live.url}/demo/insights")
    phone.fill("#api-key", live.demo_key)
    act(phone, lambda: phone.click("#signin-submit"))
    narrow = layout(phone)
    assert narrow["pageWidth"] <= PHONE["width"], "nothing but the table scrolls sideways on a phone"
    assert len(set(narrow["tileTops"][:6])) == 3 and max(narrow["tileWidths"]) <= PHONE["width"]
    assert all(w <= PHONE["width"] - 20 for w in narrow["chartWidths"])
    assert narrow["table"][0] > narrow["table"][1]
    assert narrow["smallestText"] >= 10.5
    check_matches_api(phone, live)
    phone.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"))
    phone.screenshot(path=str(ARTIFACTS / "dashboard-phone-full.png"), full_page=True)
