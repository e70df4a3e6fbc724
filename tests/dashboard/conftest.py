"""Fixtures for the dashboard: seeded workspaces, a live server and a real Chromium.

The browser tests run against `uvicorn` serving a DuckDB file seeded with the demo
generator (workspace `demo`, activity up to today so the date presets have data) and a
hand-made workspace (`handmade`: SPEC §8's worked example plus hostile names).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from annotation_insights.api.app import create_app
from annotation_insights.settings import Settings
from dashboard.browsing import CHROMIUM, CHROMIUM_ARGS, DESKTOP
from dashboard.seeding import seed
from support.servers import serve_app


@pytest.fixture(scope="package")
def live(tmp_path_factory):
    """A real server on a free loopback port, stopped at the end of the session."""
    path = str(tmp_path_factory.mktemp("dashboard") / "insights.duckdb")
    live = seed(path)
    with serve_app(create_app(Settings(database=path))) as url:
        live.url = url
        yield live


@pytest.fixture(scope="package")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser, live):
    """Fresh browser profiles that fail the test if a page reaches another host or throws."""
    contexts, foreign, errors = [], [], []

    def guard(route):
        if route.request.url.startswith((live.url + "/", "blob:", "data:")):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    def make(viewport=DESKTOP, **options):
        # A timezone far from the server's, so a date computed in the browser's zone shows up.
        ctx = browser.new_context(viewport=viewport, accept_downloads=True, locale="en-US",
                                  timezone_id="Pacific/Kiritimati", **options)
        ctx.route("**/*", guard)
        ctx.on("weberror", lambda error: errors.append(str(error.error)))
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()
    assert not foreign, f"the page tried to reach other hosts: {foreign}"
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(new_context):
    return new_context().new_page()
