"""Server settings, read from `ANNOTATION_INSIGHTS_*` environment variables.

The CLI fills the same fields from its flags, so a deployment can be configured either
way without two sources of defaults.
"""

from __future__ import annotations

import datetime as dt

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE = "./annotation-insights.duckdb"
# A server's DuckDB store: its cache of the file's blocks grows with the history until
# this limit, beside ~0.75 GB of the process's own (the event keys, the rollup backlog,
# requests). 512 MB took a 10M load of UUID ids in random order from 1.41 to 1.17 GiB at
# its peak, with the same ingest and answers: its blocks are re-read from the operating
# system's cache.
DUCKDB_MEMORY_LIMIT = "512MB"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANNOTATION_INSIGHTS_", extra="ignore")

    database: str = DEFAULT_DATABASE
    availability_date: dt.date = dt.date(2023, 8, 1)
    max_batch_events: int = 10_000
    max_body_bytes: int = 16 * 1024 * 1024
    future_tolerance_hours: int = 24
    statement_timeout_ms: int = 30_000
    pool_size: int = 8
    duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT
    # A file import's own process (`annotation-insights import`, which holds the file
    # alone): past ~20M events a 1 GB pool keeps dropping and re-reading blocks; with
    # 4 GB a 50M-event import spent 6-11 s less CPU in the kernel and took 5-9% less
    # time. A limit, not an allocation: a 10M-event import peaks at ~1.4 GB in all.
    duckdb_import_memory_limit: str = "4GB"
    # Overload protection (api/limits.py). Per-key token bucket: requests per second and
    # burst size; 0 turns the limit off. Beyond max_concurrent_requests executing in one
    # process, a request waits up to overload_wait_seconds for a slot, then gets a 503.
    rate_limit_per_second: float = 0.0
    rate_limit_burst: int = 0
    max_concurrent_requests: int = 64
    overload_wait_seconds: float = 2.0
