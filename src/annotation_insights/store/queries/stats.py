"""SPEC §5's answers read from the rollups: the stats endpoint's pair totals and
distinct images, and the dashboard's time series."""

from annotation_insights.store.queries.ingest import DAY_NUMBER, IMAGE_FLAG_BITS, IMAGE_FLAGS

# `image_fact_days` has no labeler: it is read only when the answer has none.
_PROJECT_RANGE = """workspace_id = :workspace_id AND {date} BETWEEN :start_date AND :end_date
  AND (CAST(:project AS TEXT) IS NULL OR project = :project)"""
_RANGE = _PROJECT_RANGE + """
  AND (CAST(:labeler AS TEXT) IS NULL OR labeler = :labeler)"""

# How a range's distinct images are counted: by grouping the facts by image (one
# labeler's images: the priors are over every labeler's facts), by the facts with no
# prior in the range (DuckDB), or by the counts of those facts by day (PostgreSQL:
# `Dialect.counts_image_fact_days`; queries/ingest.py, `image_fact_days`).
BY_IMAGE, BY_PRIORS, BY_FACT_DAYS = "image", "priors", "fact_days"


# A session's counts, in the order of `metrics.definitions.PairTotals`.
_SESSION_COUNTS = ("boxes_added", "boxes_removed", "boxes_updated", "net_boxes_added",
                   "images_labeled", "marked_null", "model_assisted")


def _sum(column: str) -> str:
    return f"CAST(sum({column}) AS BIGINT)"


def _sums(*columns: str) -> str:
    """Column sums as BIGINT: both backends widen a sum of BIGINTs (DuckDB to a 128-bit
    integer, PostgreSQL to numeric), which the drivers turn into Python ints several times
    slower; a 90-day answer of 347 rows at 1M events spent 1 ms of its 10 doing that. A
    count past 2^63 is an error, not a wrong number."""
    return ", ".join(map(_sum, columns))


# A stats answer's three parts come from one statement, each row tagged with its `part`
# (`PART_*`) and padded to one width: the sums of a (project, labeler) pair's sessions,
# its review sums, and the range's distinct images (no pair). DuckDB binds and optimizes
# each statement for ~2 ms on the 2-core machine, whatever the range: a 7-day answer's
# statements at 1M events took 10.6 ms as three, 6.9 ms as one. PostgreSQL saves two
# round trips.
PART_SESSIONS, PART_REVIEWS, PART_IMAGES = 0, 1, 2
_WIDTH = len(_SESSION_COUNTS)


def _padded(*values: str) -> str:
    return ", ".join((*values, *["CAST(NULL AS BIGINT)"] * (_WIDTH - len(values))))


# The third part counts the range's distinct images. Over a workspace or a project, by
# the facts with no prior of their flag in the range (queries/ingest.py:
# UPDATE_IMAGE_PRIORS): a filtered count where grouping ~280,000 images by key took
# 25-30 ms of a 90-day answer at 10M events; on PostgreSQL by the counts of such facts
# by day. A labeler's own distinct images are not what those priors tell (the priors are
# over every labeler's facts), so with a labeler each image's three flags are OR-ed over
# its facts as bits of one integer (labeled 1, marked null 2, model-assisted 4) and the
# images counted by bit: few facts, one aggregate a distinct image instead of three
# `bool_or`.
_PAIR_TOTALS = f"""
SELECT {PART_SESSIONS} AS part, project, labeler, {_sums(*_SESSION_COUNTS)}
FROM sessions WHERE {_RANGE.format(date="session_date")}
GROUP BY project, labeler
UNION ALL
SELECT {PART_REVIEWS}, project, labeler, {_padded(_sum("approved"), _sum("rejected"))}
FROM review_days WHERE {_RANGE.format(date="review_date")}
GROUP BY project, labeler
UNION ALL
SELECT {PART_IMAGES}, CAST(NULL AS TEXT), CAST(NULL AS TEXT),"""


def _first_facts(counting: str, flag: str, since: str) -> str:
    """How many of the range's facts (or fact days) are their image's first with `flag`
    since the date `since`."""
    if counting == BY_FACT_DAYS:
        return (f"coalesce(CAST(sum(facts) FILTER (WHERE flag = {IMAGE_FLAG_BITS[flag]} "
                f"AND prior_day < {DAY_NUMBER.format(date=f'CAST({since} AS DATE)')}) AS BIGINT), 0)")
    return f"count(*) FILTER (WHERE {flag} AND (prior_{flag} IS NULL OR prior_{flag} < {since}))"


def _firsts_since(counting: str, since: str) -> list[str]:
    return [_first_facts(counting, flag, since) for flag in IMAGE_FLAGS]


_STATS_IMAGES = {
    BY_PRIORS: f"""{_padded(*_firsts_since(BY_PRIORS, ":start_date"))}
FROM session_images WHERE {_RANGE.format(date="session_date")}""",
    BY_FACT_DAYS: f"""{_padded(*_firsts_since(BY_FACT_DAYS, ":start_date"))}
FROM image_fact_days WHERE {_PROJECT_RANGE.format(date="session_date")}""",
    BY_IMAGE: f"""{_padded(*(f"count(*) FILTER (WHERE (flags & {bit}) <> 0)" for bit in IMAGE_FLAG_BITS.values()))}
FROM (SELECT bit_or({" | ".join(f"{bit} * CAST({flag} AS INTEGER)" for flag, bit in IMAGE_FLAG_BITS.items())}) AS flags
      FROM session_images WHERE {_RANGE.format(date="session_date")}
      GROUP BY image_key) AS images"""}

# Keyed by how the images are counted (`StatsQuery.image_counting`).
STATS_TOTALS = {counting: f"{_PAIR_TOTALS}\n       {images}" for counting, images in _STATS_IMAGES.items()}

# --- time series (dashboard) ---------------------------------------------------------
# `:unit` is 'day', 'week' (ISO weeks, from Monday) or 'month'. Dates are cast to TIMESTAMP
# before truncating so PostgreSQL does not pass them through the session's timezone.

_PERIOD = "CAST(date_trunc(CAST(:unit AS TEXT), CAST({date} AS TIMESTAMP)) AS DATE)"

# The group a row belongs to: its labeler, its project, or '' when the series is ungrouped.
_GROUP = """CASE CAST(:group_by AS TEXT) WHEN 'labeler' THEN labeler
                                    WHEN 'project' THEN project ELSE '' END"""

# A series' three parts in one statement, as `STATS_TOTALS`, each row a (period, group):
# its session sums, its review sums, and its distinct (project, image) counts. Each part
# comes per period and group, per group and over the whole range, and for a grouped
# series per period too. Sums mark a rolled-up period or group by NULL (a date and a
# labeler or project never are); distinct counts by their first two values.
def _series_sums(part: str, date: str, table: str, columns: tuple[str, ...], sets: str) -> str:
    """The set `()` has a row even when no row is in range: its sums are 0, not NULL."""
    sums = _padded(*(f"coalesce({_sum(column)}, 0)" for column in columns))
    return f"""SELECT {part}, period, grp, {sums}
FROM (SELECT {_PERIOD.format(date=date)} AS period, {_GROUP} AS grp, {", ".join(columns)}
      FROM {table} WHERE {_RANGE.format(date=date)}) AS in_range
GROUP BY GROUPING SETS ({sets})"""


def _series_pair_totals(sets: str) -> str:
    """Summed in SQL for every set: a daily series of 90 days by 200 labelers summed each
    (day, labeler)'s totals into three others in Python, ~80 of a ~520 ms answer."""
    return f"""
{_series_sums(f"{PART_SESSIONS} AS part", "session_date", "sessions", _SESSION_COUNTS, sets)}
UNION ALL
{_series_sums(str(PART_REVIEWS), "review_date", "review_days", ("approved", "rejected"), sets)}
UNION ALL
"""


# Distinct images by group, when the groups are projects or there is one: a fact counts
# in a period if it is its image's first with the flag since the period's first day in
# the range, and in a rolled-up period if since the range's (the priors, as in
# `STATS_TOTALS`; a 90-day daily series at 10M events ~150 -> ~50 ms). A labeler's
# distinct images, by grouping them (counting each image's flags per set first, as
# `STATS_TOTALS` does, is faster on DuckDB but half again slower on PostgreSQL, which
# sorts for each set).
def _image_counts(counting: str, rolled_group: str) -> str:
    if counting == BY_IMAGE:
        return _padded("grouping(period)", rolled_group,
                       *(f"count(DISTINCT CASE WHEN {flag} THEN image_key END)" for flag in IMAGE_FLAGS))
    in_range = _firsts_since(counting, ":start_date")
    in_period = _firsts_since(counting, "greatest(period, CAST(:start_date AS DATE))")
    return _padded("grouping(period)", rolled_group, *(
        f"CASE WHEN grouping(period) = 1 THEN {whole} ELSE {part} END" for whole, part in zip(in_range, in_period)))


# What the images are counted from: (session, image) facts, or their counts by day, whose
# groups can be projects but not labelers.
_SERIES_IMAGES = {BY_IMAGE: f"""image_key, {", ".join(IMAGE_FLAGS)}
      FROM session_images WHERE {_RANGE.format(date="session_date")}""",
                  BY_PRIORS: f"""{", ".join(IMAGE_FLAGS)}, {", ".join(f"prior_{flag}" for flag in IMAGE_FLAGS)}
      FROM session_images WHERE {_RANGE.format(date="session_date")}""",
                  BY_FACT_DAYS: f"""flag, prior_day, facts
      FROM image_fact_days WHERE {_PROJECT_RANGE.format(date="session_date")}"""}
_PROJECT_GROUP = "CASE CAST(:group_by AS TEXT) WHEN 'project' THEN project ELSE '' END"


def _series_images(counting: str, sets: str, *, by_group: bool = True) -> str:
    """The image part's rows for the grouping sets; without `by_group`, sets of periods
    only, each row over every group (its group rolled up)."""
    group_source = _PROJECT_GROUP if counting == BY_FACT_DAYS else _GROUP
    group, rolled_group = ("grp", "grouping(grp)") if by_group else ("CAST(NULL AS TEXT)", "1")
    return f"""SELECT {PART_IMAGES}, period, {group},
       {_image_counts(counting, rolled_group)}
FROM (SELECT {_PERIOD.format(date="session_date")} AS period, {group_source} AS grp, {_SERIES_IMAGES[counting]}) AS facts
GROUP BY GROUPING SETS ({sets})"""


# Keyed by (whether the series is grouped, how its groups' images are counted, how the
# images of all groups are). An ungrouped series (the default) has one group, '', so it
# needs only the periods and the range: half the counting (a 90-day daily series at 50M
# events 625 -> 291 ms on DuckDB; at 1M on PostgreSQL 29 -> 21 ms). A series by labeler
# groups each labeler's facts by image, but counts the periods and the range over every
# labeler by the priors, as an ungrouped one: grouping all the range's facts by image
# for those two sets took ~95 of a 213 ms statement (90 days by day at 10M events).
# Each group per period and over the range; a grouped series also all groups so.
_GROUP_SETS, _ALL_GROUPS_SETS = "(period, grp), (grp)", "(period), ()"
_GROUPED_SETS = f"{_GROUP_SETS}, {_ALL_GROUPS_SETS}"
SERIES_TOTALS = {
    **{(grouped, counting, counting): _series_pair_totals(sets) + _series_images(counting, sets)
       for grouped, sets in ((False, _GROUP_SETS), (True, _GROUPED_SETS))
       for counting in (BY_IMAGE, BY_PRIORS, BY_FACT_DAYS)},
    **{(True, BY_IMAGE, totals): _series_pair_totals(_GROUPED_SETS)
       + _series_images(BY_IMAGE, _GROUP_SETS)
       + "\nUNION ALL\n" + _series_images(totals, _ALL_GROUPS_SETS, by_group=False)
       for totals in (BY_PRIORS, BY_FACT_DAYS)}}
