"""SPEC §5's answers read from the rollups: the stats endpoint's pair totals and
distinct images, and the dashboard's time series."""

_RANGE = """workspace_id = :workspace_id AND {date} BETWEEN :start_date AND :end_date
  AND (CAST(:project AS TEXT) IS NULL OR project = :project)
  AND (CAST(:labeler AS TEXT) IS NULL OR labeler = :labeler)"""


# A session's counts, in the order of `metrics.definitions.PairTotals`.
_SESSION_COUNTS = ("boxes_added", "boxes_removed", "boxes_updated", "net_boxes_added",
                   "images_labeled", "marked_null", "model_assisted")


def _sums(*columns: str) -> str:
    """Column sums as BIGINT: both backends widen a sum of BIGINTs (DuckDB to a 128-bit
    integer, PostgreSQL to numeric), which the drivers turn into Python ints several times
    slower; a 90-day answer of 347 rows at 1M events spent 1 ms of its 10 doing that. A
    count past 2^63 is an error, not a wrong number."""
    return ", ".join(f"CAST(sum({column}) AS BIGINT)" for column in columns)


PAIR_SESSION_TOTALS = f"""
SELECT project, labeler, {_sums(*_SESSION_COUNTS)}
FROM sessions WHERE {_RANGE.format(date="session_date")}
GROUP BY project, labeler"""

PAIR_REVIEW_TOTALS = f"""
SELECT project, labeler, {_sums("approved", "rejected")}
FROM review_days WHERE {_RANGE.format(date="review_date")}
GROUP BY project, labeler"""

# Distinct images over the range: each image's three flags as bits of one integer
# (labeled 1, marked null 2, model-assisted 4) OR-ed over its facts, then the images
# counted by bit. One aggregate a distinct image instead of three `bool_or`: the 365-day
# totals at 50M events ~540 -> 455 ms on DuckDB, the same on PostgreSQL.
UNIQUE_IMAGE_TOTALS = f"""
SELECT count(*) FILTER (WHERE (flags & 1) <> 0), count(*) FILTER (WHERE (flags & 2) <> 0),
       count(*) FILTER (WHERE (flags & 4) <> 0)
FROM (SELECT bit_or(CAST(labeled AS INTEGER) | 2 * CAST(marked_null AS INTEGER)
                    | 4 * CAST(model_assisted AS INTEGER)) AS flags
      FROM session_images WHERE {_RANGE.format(date="session_date")}
      GROUP BY image_key) AS images"""

# --- time series (dashboard) ---------------------------------------------------------
# `:unit` is 'day', 'week' (ISO weeks, from Monday) or 'month'. Dates are cast to TIMESTAMP
# before truncating so PostgreSQL does not pass them through the session's timezone.

_PERIOD = "CAST(date_trunc(CAST(:unit AS TEXT), CAST({date} AS TIMESTAMP)) AS DATE)"

# The group a row belongs to: its labeler, its project, or '' when the series is ungrouped.
_GROUP = """CASE CAST(:group_by AS TEXT) WHEN 'labeler' THEN labeler
                                    WHEN 'project' THEN project ELSE '' END"""

SERIES_SESSION_TOTALS = f"""
SELECT {_PERIOD.format(date="session_date")} AS period, {_GROUP} AS grp,
       {_sums(*_SESSION_COUNTS)}
FROM sessions WHERE {_RANGE.format(date="session_date")}
GROUP BY 1, 2"""

SERIES_REVIEW_TOTALS = f"""
SELECT {_PERIOD.format(date="review_date")} AS period, {_GROUP} AS grp, {_sums("approved", "rejected")}
FROM review_days WHERE {_RANGE.format(date="review_date")}
GROUP BY 1, 2"""

# Distinct (project, image) per period and group, per period, per group and over the whole
# range; the third and fourth columns flag a rolled-up period or group. (Counting each
# image's flags per set first, as `UNIQUE_IMAGE_TOTALS` does, is faster on DuckDB but
# half again slower on PostgreSQL, which sorts for each set.)
_SERIES_UNIQUE_IMAGES = f"""
SELECT period, grp, grouping(period), grouping(grp),
       count(DISTINCT CASE WHEN labeled THEN image_key END),
       count(DISTINCT CASE WHEN marked_null THEN image_key END),
       count(DISTINCT CASE WHEN model_assisted THEN image_key END)
FROM (SELECT {_PERIOD.format(date="session_date")} AS period,
             {_GROUP} AS grp, image_key, labeled, marked_null, model_assisted
      FROM session_images WHERE {_RANGE.format(date="session_date")}) AS facts
GROUP BY GROUPING SETS ({{sets}})"""

SERIES_UNIQUE_IMAGES = _SERIES_UNIQUE_IMAGES.format(sets="(period, grp), (period), (grp), ()")

# An ungrouped series (the default) has one group, '', so it needs only the periods and
# the range: half the counting (a 90-day daily series at 50M events 625 -> 291 ms on
# DuckDB; at 1M on PostgreSQL 29 -> 21 ms).
SERIES_UNIQUE_IMAGES_UNGROUPED = _SERIES_UNIQUE_IMAGES.format(sets="(period, grp), (grp)")
