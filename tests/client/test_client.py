"""`from annotation_insights import Client`, against a real server on both backends."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from annotation_insights import Client
from annotation_insights.client import AnnotationInsightsError, Stats

UTC = dt.timezone.utc


def events(n: int, start: int = 0) -> list[dict]:
    """n annotations created by two labelers on two days, one image per 10 boxes."""
    return [{"id": f"e{i}", "type": "annotation.created",
             "time": dt.datetime(2024, 3, 1 + i % 2, 10, tzinfo=UTC),
             "project": "boats", "image": f"img{i // 10}", "labeler": "ana" if i % 3 else "bo",
             "annotation": f"a{i}"} for i in range(start, start + n)]


class Flaky(httpx.BaseTransport):
    """The real server behind a link that fails the first requests: 503, then a reset."""

    def __init__(self, failures: list[str]) -> None:
        self.real = httpx.HTTPTransport()
        self.failures = list(failures)
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.failures:
            failure = self.failures.pop(0)
            if failure == "reset":
                raise httpx.ConnectError("connection reset", request=request)
            response = self.real.handle_request(request)  # delivered, answer lost:
            response.read()                                 # a retry must not double-count
            return httpx.Response(503, json={"error": {"status": 503, "code": "store_unavailable",
                                                       "message": "busy", "details": []}})
        return self.real.handle_request(request)


def test_send_batches_and_stats_are_typed(server_url, tenant):
    with Client(server_url, tenant.all, batch_size=4_000) as client:
        sent = client.send(iter(events(9_000)))
        assert (sent.accepted, sent.duplicates, sent.batches) == (9_000, 0, 3)
        assert client.send(events(100)).duplicates == 100
        stats = client.stats("acme", dt.date(2024, 3, 1), "2024-03-02")
    assert isinstance(stats, Stats)
    assert [(r.labeler_id, r.boxes_added) for r in stats.rows] == [("ana", 6_000), ("bo", 3_000)]
    assert stats.totals.num_boxes_added == 9_000 and stats.totals.approval_rate is None
    assert [lab.id for lab in stats.labelers] == ["ana", "bo"]


def test_retries_5xx_and_network_errors_without_double_counting(server_url, tenant):
    flaky = Flaky(["503", "reset", "503"])
    with Client(server_url, tenant.all, workspace="acme", transport=flaky, backoff=0.01) as client:
        sent = client.send(events(50))
    assert flaky.requests == 4
    # The first attempt was stored before its answer was lost; the retry found it stored.
    assert (sent.accepted, sent.duplicates) == (0, 50)
    with Client(server_url, tenant.read) as client:
        assert client.stats("acme", "2024-03-01", "2024-03-02").totals.num_boxes_added == 50


def test_client_errors_raise_at_once_with_the_servers_details(server_url, tenant):
    flaky = Flaky([])
    with Client(server_url, tenant.write, workspace="acme", transport=flaky) as client:
        with pytest.raises(AnnotationInsightsError) as info:
            client.send([{"id": "x", "type": "annotation.created"}])
    assert flaky.requests == 1
    assert info.value.status == 400 and info.value.details[0]["field"] == "time"
    with Client(server_url, tenant.read) as client:
        with pytest.raises(AnnotationInsightsError) as info:
            client.stats("acme", "2024-03-02", "2024-03-01")
    assert info.value.code == "bad_request"
    with pytest.raises(ValueError, match="naive"):
        Client(server_url, tenant.write).send([{"id": "n", "time": dt.datetime(2024, 3, 1)}])


def test_to_pandas(server_url, tenant):
    with Client(server_url, tenant.all) as client:
        client.send(events(30))
        frame = client.stats("acme", "2024-03-01", "2024-03-02", project="boats").to_pandas()
    assert list(frame["labeler_id"]) == ["ana", "bo"]
    assert frame["boxes_added"].sum() == 30
    assert {"labeler_name", "approval_rate", "images_labeled"} <= set(frame.columns)


def test_timeseries(server_url, tenant):
    with Client(server_url, tenant.all) as client:
        client.send(events(30))
        try:
            series = client.timeseries("acme", "2024-03-01", "2024-03-03", group_by="labeler")
        except AnnotationInsightsError as exc:
            if exc.status == 404 and "No route" in exc.message:
                pytest.skip("GET /{workspace}/stats/timeseries is not in this server yet")
            raise
    assert [p.period for p in series.periods] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert [p.metrics["boxes_added"] for p in series.periods] == [15, 15, 0]
    assert series.periods[0].groups["ana"]["boxes_added"] == 10
    frame = series.to_pandas()
    assert set(frame["group"]) == {"ana", "bo"} and frame["boxes_added"].sum() == 30


def test_to_pandas_without_pandas_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    empty = Stats.from_json({"data": [], "labelers": [], "stats": {}, "meta": {"notices": []}})
    with pytest.raises(ImportError, match="pip install pandas"):
        empty.to_pandas()
