"""SPEC §2 "a key never appears in logs": redaction of query, header and bare keys, on
uvicorn's access-log path and on a real served app at the default log level."""

from __future__ import annotations

import logging
import secrets
import socket
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from annotation_insights.api.app import create_app
from annotation_insights.api.logging import RedactKeys, redact
from annotation_insights.settings import Settings
from annotation_insights.tenancy.keys import create_key, revoke_key
from api.helpers import MARCH, bearer, event

LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "annotation_insights")


def key_like_a_real_one() -> str:
    return f"ai_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def access_record(path: str, status: int = 200) -> logging.LogRecord:
    """The record uvicorn's HTTP protocol hands to the "uvicorn.access" logger."""
    return logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access", logging.INFO, __file__, 0, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50123", "GET", path, "1.1", status), None)


def test_redact_scrubs_keys_in_query_strings_headers_and_bare_text():
    key = key_like_a_real_one()
    cases = {
        f"GET /acme/stats?api_key={key}&startDate=2024-03-01":
            "GET /acme/stats?api_key=REDACTED&startDate=2024-03-01",
        f"GET /acme/stats?startDate=2024-03-01&API_KEY={key}":
            "GET /acme/stats?startDate=2024-03-01&API_KEY=REDACTED",
        f"GET /acme/stats?api%5Fkey={key}&endDate=2024-03-31":
            "GET /acme/stats?api%5Fkey=REDACTED&endDate=2024-03-31",
        "POST /?api_key=anything-a-client-sends HTTP/1.1": "POST /?api_key=REDACTED HTTP/1.1",
        f"Authorization: Bearer {key}": "Authorization: Bearer REDACTED",
        f"retrying with {key} now": "retrying with ai_REDACTED now",
        "GET /acme/stats?startDate=2024-03-01": "GET /acme/stats?startDate=2024-03-01",
    }
    for raw, expected in cases.items():
        assert redact(raw) == expected


def test_filter_redacts_an_access_record_and_uvicorn_still_formats_it():
    key = key_like_a_real_one()
    record = access_record(f"/acme/stats?api_key={key}&startDate=2024-03-01&endDate=2024-03-31")
    assert RedactKeys().filter(record) is True
    formatter = AccessFormatter(fmt=LOGGING_CONFIG["formatters"]["access"]["fmt"], use_colors=False)
    line = formatter.format(record)
    assert key not in line
    assert line.endswith('127.0.0.1:50123 - "GET /acme/stats?api_key=REDACTED&startDate=2024-03-01'
                         '&endDate=2024-03-31 HTTP/1.1" 200 OK')


def test_filter_redacts_keys_in_messages_and_mapping_args():
    key = key_like_a_real_one()
    record = logging.LogRecord("annotation_insights", logging.INFO, __file__, 0,
                               f"key {key} seen", None, None)
    record.args = {"url": f"/?api_key={key}"}
    RedactKeys().filter(record)
    assert key not in record.msg and key not in str(record.args)


@pytest.fixture
def restore_logging():
    """Serving configures uvicorn's loggers process-wide; put them back afterwards."""
    saved = {name: (lg.handlers[:], lg.filters[:], lg.level, lg.propagate, lg.disabled)
             for name in LOGGERS for lg in [logging.getLogger(name)]}
    yield
    for name, (handlers, filters, level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.filters[:] = handlers, filters
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled


@contextmanager
def served(app):
    """The app behind a real uvicorn, configured as `annotation-insights serve` does."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, proxy_headers=False, server_header=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def test_served_app_never_logs_a_key_at_the_default_level(db, tenant, database_url, capsys,
                                                          caplog, restore_logging):
    caplog.set_level(logging.INFO)
    revoked = create_key(db, tenant.workspace)
    revoke_key(db, revoked.id)
    unknown = key_like_a_real_one()
    keys = (tenant.read, tenant.write, tenant.admin, tenant.all, revoked.key, unknown)
    with served(create_app(Settings(database=database_url), db)) as url, \
            httpx.Client(base_url=url) as http:
        assert http.get("/acme/stats", params={"api_key": tenant.read, **MARCH}).status_code == 200
        assert http.get("/acme/stats", params={"api_key": revoked.key, **MARCH}).status_code == 401
        assert http.get("/acme/stats", params={**MARCH, "api_key": unknown}).status_code == 401
        assert http.get(f"/acme/stats?api%5Fkey={tenant.all}&startDate=2024-03-01"
                        "&endDate=2024-03-31").status_code == 200
        assert http.post("/", params={"api_key": tenant.admin}).json() == {"workspace": "acme"}
        response = http.post("/acme/events", json=[event("e1")], headers=bearer(tenant.write))
        assert response.status_code == 200
    out, err = capsys.readouterr()
    # httpx logs the URLs the *test client* requested; only the server's lines count here.
    server_records = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    logged = "\n".join([out, err, *server_records])
    for key in keys:
        assert key not in logged
    assert ('"GET /acme/stats?api_key=REDACTED&startDate=2024-03-01&endDate=2024-03-31 '
            'HTTP/1.1" 200') in out
    assert '"GET /acme/stats?startDate=2024-03-01&endDate=2024-03-31&api_key=REDACTED' in out
    assert '"POST /?api_key=REDACTED HTTP/1.1" 200' in out
    assert '"POST /acme/events HTTP/1.1" 200' in out
