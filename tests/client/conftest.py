"""A real server on a loopback port, over the test's database (both backends)."""

from __future__ import annotations

import pytest

from annotation_insights.api.app import create_app
from support.servers import serve_app


@pytest.fixture
def server_url(db, settings):
    with serve_app(create_app(settings, db)) as url:
        yield url
