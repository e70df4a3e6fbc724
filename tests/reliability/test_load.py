"""Load (issue 7.2), short: the 5-minute `bench/load_test.py` run for 15 s on each backend.

Mixed ingest (first pass new events, then all duplicates) and stats traffic from 8
bounded asyncio clients against a real server: no 5xx, no transport error, a clean
SIGTERM exit, served stats equal to the same events ingested serially, and no runaway
memory. The full run and its figures are in docs/reliability.md.
"""

from __future__ import annotations

from bench.load_test import LoadConfig, run_load


def test_mixed_load_has_no_5xx_and_loses_nothing(database_url, tmp_path):
    config = LoadConfig(duration=15, concurrency=8, events=12_000, batch=250, database=database_url,
                        max_growth=50)
    result = run_load(config, tmp_path)
    print("\n" + "\n".join(result.lines()))
    assert result.server_errors == 0 and result.transport_errors == 0
    assert result.shed == 0  # the default limits are far above 8 clients
    assert result.kinds["ingest"]["requests"] >= 20 and result.kinds["stats"]["requests"] >= 50
    assert result.events_sent > result.events_unique_acked  # the duplicate pass was reached
    assert result.stats_match is True
    assert result.server_exit_code == 0
    assert result.ok
