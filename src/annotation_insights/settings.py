"""Server settings, read from `ANNOTATION_INSIGHTS_*` environment variables.

The CLI fills the same fields from its flags, so a deployment can be configured either
way without two sources of defaults.
"""

from __future__ import annotations

import datetime as dt

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE = "./annotation-insights.duckdb"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANNOTATION_INSIGHTS_", extra="ignore")

    database: str = DEFAULT_DATABASE
    availability_date: dt.date = dt.date(2023, 8, 1)
    max_batch_events: int = 10_000
    max_body_bytes: int = 16 * 1024 * 1024
    future_tolerance_hours: int = 24
    statement_timeout_ms: int = 30_000
    pool_size: int = 8
