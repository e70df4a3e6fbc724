"""Driving the dashboard in Chromium, and reading back every number it shows."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from dashboard.seeding import Live

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# KPI tile -> where the same number is in the API: (`stats` field) or the sum of a data[] field.
TILES = {
    "imagesLabeled": ("sum", "imagesLabeled"),
    "numImagesLabeled": ("stats", "numImagesLabeled"),
    "numBoxesDrawn": ("stats", "numBoxesDrawn"),
    "netBoxesAdded": ("stats", "netBoxesAdded"),
    "numImagesMarkedNull": ("stats", "numImagesMarkedNull"),
    "totalImagesUsingModelAssist": ("stats", "totalImagesUsingModelAssist"),
    "approvalRate": ("stats", "approvalRate"),
}
NUMERIC = ("imagesLabeled", "boxesDrawn", "boxesAdded", "boxesRemoved", "boxesUpdated", "netBoxesAdded",
           "netBoxesUpdated", "markedNull", "modelAssisted", "approved", "rejected", "approvalRate")

READ_VIEW = """() => {
  const cells = (tr) => Object.fromEntries([...tr.cells].map((td) => [td.dataset.field, td.textContent]));
  const rects = (sel) => [...document.querySelectorAll(sel)].map(
    (r) => [r.dataset.series, r.dataset.period, Number(r.dataset.value)]);
  return {
    tiles: Object.fromEntries([...document.querySelectorAll('[data-kpi]')].map(
      (t) => [t.dataset.kpi, t.querySelector('.kpi-value').textContent])),
    rows: [...document.querySelectorAll('#labelers-table tbody tr[data-labeler]')].map(
      (tr) => Object.assign(cells(tr), {project: tr.dataset.project, labeler: tr.dataset.labeler,
                                        project_text: tr.cells[1].textContent, labeler_text: tr.cells[0].textContent})),
    total: [...document.querySelectorAll('#labelers-table tfoot tr')].map(cells)[0] || null,
    images: rects('#chart-images rect[data-series]'),
    boxes: rects('#chart-boxes rect[data-series]'),
    approval: [...document.querySelectorAll('#chart-approval .rate-row')].map(
      (g) => [g.dataset.series, g.querySelector('.bar-label').textContent]),
    legend: [...document.querySelectorAll('#legend-images li')].map((li) => li.dataset.series),
    search: location.search,
  };
}"""


def number(text: str):
    """A number as the page prints it ("1,234", "84.5%", "—") as the API would send it."""
    cleaned = text.strip().replace(",", "").removesuffix("%")
    if cleaned == "—":
        return None
    return float(cleaned) if "." in cleaned else int(cleaned)


def wait_loaded(page) -> None:
    page.wait_for_function("() => { const d = document.getElementById('dashboard');"
                           " return !d.hidden && d.getAttribute('aria-busy') === 'false'; }")


def act(page, action) -> None:
    """Do something that reloads the data and wait until the page has drawn the answer."""
    with page.expect_response(lambda r: "/stats/timeseries" in r.url):
        action()
    wait_loaded(page)


def sign_in(page, live: Live, workspace: str = "demo", key: str | None = None, query: str = "") -> None:
    page.goto(f"{live.url}/{workspace}/insights{query}")
    page.fill("#api-key", key or live.demo_key)
    act(page, lambda: page.click("#signin-submit"))


def filters(page) -> dict:
    query = parse_qs(urlparse(page.url).query)
    return {k: v[0] for k, v in query.items() if k in ("startDate", "endDate", "project", "userId")}


def view(page) -> dict:
    return page.evaluate(READ_VIEW)


def check_matches_api(page, live: Live, workspace: str = "demo", key: str | None = None) -> dict:
    """Every number on the page equals the API's answer for the query in the page's URL."""
    params = filters(page)
    shown = view(page)
    stats = live.stats(workspace, key, **params)
    granularity = parse_qs(urlparse(page.url).query).get("granularity", [None])[0]
    series = live.timeseries(workspace, key, groupBy="labeler", **params,
                             **({"granularity": granularity} if granularity else {}))
    data = stats["data"]

    for tile, (kind, field) in TILES.items():
        want = stats["stats"][field] if kind == "stats" else sum(r[field] for r in data)
        assert number(shown["tiles"][tile]) == want, (tile, shown["tiles"][tile], want)

    assert sorted((r["project"], r["labeler"]) for r in shown["rows"]) == \
           sorted((r["projectId"], r["labelerId"]) for r in data)
    by_pair = {(r["projectId"], r["labelerId"]): r for r in data}
    for row in shown["rows"]:
        want = by_pair[(row["project"], row["labeler"])]
        for field in NUMERIC:
            assert number(row[field]) == want[field], (row["project"], row["labeler"], field)
        assert row["project_text"].startswith(want["projectName"]) and want["projectType"] in row["project_text"]
        assert want["labelerId"] in row["labeler_text"]
    if data:
        for field in NUMERIC:
            want = stats["stats"]["approvalRate"] if field == "approvalRate" else sum(r[field] for r in data)
            assert number(shown["total"][field]) == want, ("total", field)

    per_labeler = defaultdict(int)
    for labeler, _, value in shown["images"]:
        per_labeler[labeler] += value
    expected = defaultdict(int)
    for row in data:
        expected[row["labelerId"]] += row["imagesLabeled"]
    assert dict(per_labeler) == {k: v for k, v in expected.items() if v}
    per_period = defaultdict(int)
    for _, period, value in shown["images"]:
        per_period[period] += value
    assert dict(per_period) == {p["period"]: p["imagesLabeled"] for p in series["periods"] if p["imagesLabeled"]}
    drawn = {(s, p): v for s, p, v in shown["boxes"]}
    for period in series["periods"]:
        for field in ("boxesAdded", "boxesRemoved"):
            assert drawn.get((field, period["period"]), 0) == period[field], (period["period"], field)

    for labeler, label in shown["approval"]:
        alone = live.stats(workspace, key, **(params | {"userId": labeler}))
        assert number(label) == alone["stats"]["approvalRate"], labeler
    reviewed = {r["labelerId"] for r in data if r["approved"] + r["rejected"]}
    assert reviewed <= {labeler for labeler, _ in shown["approval"]}
    return {"shown": shown, "stats": stats, "series": series}
