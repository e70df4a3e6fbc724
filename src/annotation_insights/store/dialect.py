"""Everything that differs between DuckDB and PostgreSQL SQL, and nothing else.

Queries are written once with `:name` parameters; each backend binds them in its own
paramstyle. Staging (bulk-loading a batch into a relation the shared SQL can join) is
the other difference and lives in the backends.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@dataclass(frozen=True)
class Dialect:
    name: str
    param_template: str
    # How a text column is stored whose value differs on nearly every row (an event's or
    # an annotation's id): DuckDB's default, a dictionary plus FSST, gains little on
    # such text and costs its writer more than zstd does.
    unique_text: str = ""
    # Whether a batch's merges bound their scans of the fact tables by the dates of the
    # sessions they touch. DuckDB skips the rest of a table by its zone maps. PostgreSQL
    # finds the facts by their keys, and to its planner a range of the newest dates (past
    # the statistics it sampled) holds no row, so it joins by nested loops over the range.
    bounds_merges_by_date: bool = True
    # Whether a merge's update finds the stored rows its lookup found by their row
    # numbers rather than by key (queries/ingest.py: LOOKUP_SESSION_IMAGES,
    # SESSION_COUNT_CHANGES).
    merges_by_row_number: bool = False
    # Whether a stored (session, annotation) fact's flags change by another row rather
    # than by an update (queries/ingest.py, LOOKUP_SESSION_ANNOTATIONS).
    appends_annotation_flags: bool = False
    # Whether a range's distinct images are counted from `image_fact_days` (PostgreSQL,
    # which reads rows: queries/ingest.py) rather than from the facts.
    counts_image_fact_days: bool = False

    def bind(self, sql: str) -> str:
        return _bind(self.param_template, sql)

    @staticmethod
    def used(sql: str, params: dict | None) -> dict:
        """The parameters a statement names. DuckDB refuses any other (psycopg ignores
        them), and shared code passes one set to the several statements of a step."""
        names = _names(sql)
        return {name: value for name, value in (params or {}).items() if name in names}

    def merge_dates(self, dates: Iterable[dt.date]) -> dict[str, dt.date]:
        """`first_date` and `last_date` of a batch's merges, for the touched sessions' dates."""
        if not self.bounds_merges_by_date:
            return {"first_date": dt.date.min, "last_date": dt.date.max}
        dates = list(dates)
        return {"first_date": min(dates), "last_date": max(dates)}

    def applies(self, statement: str | tuple[str, str]) -> str | None:
        """The SQL of a migration statement if it is meant for this dialect, with its
        `{unique_text}` column storage."""
        if isinstance(statement, tuple):
            dialect, statement = statement
            if dialect != self.name:
                return None
        return statement.replace("{unique_text}", self.unique_text)


@lru_cache(maxsize=512)
def _names(sql: str) -> frozenset[str]:
    return frozenset(_PARAM.findall(sql))


@lru_cache(maxsize=512)
def _bind(template: str, sql: str) -> str:
    return _PARAM.sub(lambda m: template.format(m.group(1)), sql)


DUCKDB = Dialect("duckdb", "${}", unique_text="USING COMPRESSION zstd", merges_by_row_number=True,
                 appends_annotation_flags=True)
POSTGRESQL = Dialect("postgresql", "%({})s", bounds_merges_by_date=False, counts_image_fact_days=True)
