"""What a user could write instead of the product, on the same events, to compare against.

1. One SQL statement over a plain `raw_events` table in its own DuckDB file: SPEC §4
   sessions and every §5 field of `data[]` and `stats`, from the raw events at query time.
2. A pandas script over the Parquet export, the same definitions in DataFrame operations.

Both are written from the SPEC, not from the product's code, and both answers are checked
against the API's for the same range, so a speed-up is never bought with a wrong answer.
They run in the benchmark's own process, without HTTP: that favours the baselines.

3. For bulk import, DuckDB loading the same file into one table of a new file, in a
   process of its own like the import command: what storing the events costs with no
   checks, no ids and no rollups, so the import's throughput has a floor to be read against.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROW_FIELDS = ("boxesAdded", "boxesRemoved", "boxesUpdated", "boxesDrawn", "netBoxesAdded",
              "netBoxesUpdated", "imagesLabeled", "markedNull", "modelAssisted", "approved",
              "rejected", "approvalRate")
STATS_FIELDS = ("numImagesLabeled", "numImagesMarkedNull", "totalImagesUsingModelAssist",
                "numBoxesAdded", "numBoxesRemoved", "numBoxesUpdated", "numBoxesDrawn",
                "netBoxesAdded", "netBoxesUpdated", "approvalRate")
REVIEWS = ("image.approved", "image.rejected")

# $tz: the workspace timezone; $project / $labeler: optional filters (NULL = all).
RAW_SQL = """
WITH ev AS (
    SELECT *, CAST(timezone($tz, time) AS DATE) AS day FROM raw_events
    WHERE ($project IS NULL OR project = $project) AND ($labeler IS NULL OR labeler = $labeler)
), labeling AS (  -- SPEC §4: explicit session id, else the labeler's local day in the project
    SELECT *, coalesce('s:' || session, 'd:' || CAST(day AS VARCHAR)) AS skey
    FROM ev WHERE type NOT IN ('image.approved', 'image.rejected')
), sessions AS (  -- a session's date: the local date of its earliest event
    SELECT project, labeler, skey, min(day) AS session_date FROM labeling GROUP BY ALL
), in_range AS (
    SELECT l.* FROM labeling l JOIN sessions s USING (project, labeler, skey)
    WHERE s.session_date BETWEEN $start AND $end
), images AS (  -- one row per (session, image)
    SELECT project, labeler, skey, image,
           bool_or(type LIKE 'annotation.%' OR type = 'image.marked_null') AS labeled,
           bool_or(type = 'image.marked_null') AS marked_null,
           bool_or(type = 'image.model_assisted'
                   OR (type = 'annotation.created' AND coalesce(modelAssisted, false))) AS assisted
    FROM in_range GROUP BY ALL
), annotations AS (  -- one row per (session, annotation)
    SELECT project, labeler, skey, annotation,
           bool_or(type = 'annotation.created') AND NOT bool_or(type = 'annotation.deleted') AS net
    FROM in_range WHERE type LIKE 'annotation.%' GROUP BY ALL
), pair_boxes AS (
    SELECT project, labeler,
           count(*) FILTER (WHERE type = 'annotation.created') AS added,
           count(*) FILTER (WHERE type = 'annotation.deleted') AS removed,
           count(*) FILTER (WHERE type = 'annotation.updated') AS updated
    FROM in_range GROUP BY ALL
), pair_images AS (
    SELECT project, labeler, count(*) FILTER (WHERE labeled) AS labeled,
           count(*) FILTER (WHERE marked_null) AS marked_null,
           count(*) FILTER (WHERE assisted) AS assisted
    FROM images GROUP BY ALL
), pair_net AS (
    SELECT project, labeler, count(*) FILTER (WHERE net) AS net FROM annotations GROUP BY ALL
), pair_reviews AS (
    SELECT project, labeler, count(*) FILTER (WHERE type = 'image.approved') AS approved,
           count(*) FILTER (WHERE type = 'image.rejected') AS rejected
    FROM ev WHERE type IN ('image.approved', 'image.rejected') AND day BETWEEN $start AND $end
    GROUP BY ALL
), pairs AS (
    SELECT project, labeler FROM pair_boxes UNION SELECT project, labeler FROM pair_reviews
), data AS (
    SELECT p.project, p.labeler, coalesce(b.added, 0) AS added, coalesce(b.removed, 0) AS removed,
           coalesce(b.updated, 0) AS updated, coalesce(n.net, 0) AS net,
           coalesce(i.labeled, 0) AS labeled, coalesce(i.marked_null, 0) AS marked_null,
           coalesce(i.assisted, 0) AS assisted, coalesce(r.approved, 0) AS approved,
           coalesce(r.rejected, 0) AS rejected
    FROM pairs p
    LEFT JOIN pair_boxes b USING (project, labeler) LEFT JOIN pair_images i USING (project, labeler)
    LEFT JOIN pair_net n USING (project, labeler) LEFT JOIN pair_reviews r USING (project, labeler)
), uniq AS (  -- workspace totals count each (project, image) once
    SELECT count(DISTINCT project || '/' || image) FILTER (WHERE labeled) AS labeled,
           count(DISTINCT project || '/' || image) FILTER (WHERE marked_null) AS marked_null,
           count(DISTINCT project || '/' || image) FILTER (WHERE assisted) AS assisted
    FROM images
)
SELECT false AS total, project, labeler, added, removed, updated, net, labeled, marked_null,
       assisted, approved, rejected FROM data
UNION ALL
SELECT true, NULL, NULL, coalesce(sum(d.added), 0), coalesce(sum(d.removed), 0),
       coalesce(sum(d.updated), 0), coalesce(sum(d.net), 0), any_value(u.labeled),
       any_value(u.marked_null), any_value(u.assisted), coalesce(sum(d.approved), 0),
       coalesce(sum(d.rejected), 0)
FROM uniq u LEFT JOIN data d ON true
ORDER BY total, project, labeler
"""


def rate(approved: int, rejected: int) -> float | None:
    return None if approved + rejected == 0 else round(100 * approved / (approved + rejected), 2)


def shape(rows: list[tuple]) -> dict:
    """Result rows (pairs, then the totals row) as {"data": [...], "stats": {...}}."""
    data = []
    for total, project, labeler, added, removed, updated, net, labeled, null, assisted, ok, bad in rows:
        if total:
            stats = {"numImagesLabeled": labeled, "numImagesMarkedNull": null,
                     "totalImagesUsingModelAssist": assisted, "numBoxesAdded": added,
                     "numBoxesRemoved": removed, "numBoxesUpdated": updated,
                     "numBoxesDrawn": added - removed, "netBoxesAdded": net,
                     "netBoxesUpdated": updated, "approvalRate": rate(ok, bad)}
            continue
        data.append({"projectId": project, "labelerId": labeler, "boxesAdded": added,
                     "boxesRemoved": removed, "boxesUpdated": updated, "boxesDrawn": added - removed,
                     "netBoxesAdded": net, "netBoxesUpdated": updated, "imagesLabeled": labeled,
                     "markedNull": null, "modelAssisted": assisted, "approved": ok, "rejected": bad,
                     "approvalRate": rate(ok, bad)})
    return {"data": data, "stats": stats}


def differences(ours: dict, theirs: dict, limit: int = 5) -> list[str]:
    """Where two answers disagree on data[] (pairs, metric fields) or stats; [] if they agree."""
    out = []
    mine = {(r["projectId"], r["labelerId"]): r for r in ours.get("data", [])}
    other = {(r["projectId"], r["labelerId"]): r for r in theirs.get("data", [])}
    for key in sorted(set(mine) ^ set(other)):
        out.append(f"row {key} only in {'API' if key in mine else 'baseline'}")
    for key in sorted(set(mine) & set(other)):
        out += [f"row {key} {f}: API {mine[key][f]} vs baseline {other[key][f]}"
                for f in ROW_FIELDS if mine[key][f] != other[key][f]]
    out += [f"stats {f}: API {ours['stats'][f]} vs baseline {theirs['stats'][f]}"
            for f in STATS_FIELDS if ours.get("stats", {}).get(f) != theirs["stats"][f]]
    return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


class RawSql:
    """The plain-table baseline: `raw_events` in a DuckDB file of its own, loaded once."""

    def __init__(self, parquet: Path, path: Path) -> None:
        fresh = not path.exists()
        self.conn = duckdb.connect(str(path))
        if fresh:
            self.conn.execute(f"CREATE TABLE raw_events AS SELECT * FROM read_parquet('{parquet}')")
        self.disk_bytes = path.stat().st_size

    def stats(self, start: dt.date, end: dt.date, tz: str = "UTC", project: str | None = None,
              labeler: str | None = None) -> dict:
        params = {"tz": tz, "start": start, "end": end, "project": project, "labeler": labeler}
        return shape(self.conn.execute(RAW_SQL, params).fetchall())

    def close(self) -> None:
        self.conn.close()


# What a user would write to load an event file into DuckDB: its readers detect the types.
LOAD_SQL = {"ndjson": "CREATE TABLE raw_events AS SELECT * FROM read_json_auto($path)",
            "parquet": "CREATE TABLE raw_events AS SELECT * FROM read_parquet($path)"}
_LOAD_PROGRAM = ("import sys, duckdb; db = duckdb.connect(sys.argv[3]); "
                 "db.execute(sys.argv[1], {'path': sys.argv[2]}); db.close()")


def duckdb_load(path: Path, fmt: str, target: Path) -> float:
    """Seconds a new process takes to load the file into `target` (a new DuckDB file,
    removed afterwards), start-up and exit included as for the import command."""
    target.unlink(missing_ok=True)
    try:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", _LOAD_PROGRAM, LOAD_SQL[fmt], str(path), str(target)],
                       check=True, capture_output=True)
        return time.perf_counter() - t0
    finally:
        target.unlink(missing_ok=True)
        target.with_name(target.name + ".wal").unlink(missing_ok=True)


def pandas_read(parquet: Path):
    import pandas as pd

    return pd.read_parquet(parquet)


def pandas_stats(df, start: dt.date, end: dt.date, tz: str = "UTC", project: str | None = None,
                 labeler: str | None = None) -> dict:
    """SPEC §4/§5 in pandas: the script a data scientist would keep next to the export."""
    import pandas as pd

    if project is not None:
        df = df[df["project"] == project]
    if labeler is not None:
        df = df[df["labeler"] == labeler]
    day = df["time"].dt.tz_convert(tz).dt.tz_localize(None).dt.floor("D")
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    review = df["type"].isin(REVIEWS)
    lab = df.loc[~review, ["project", "labeler", "session", "image", "annotation", "type",
                           "modelAssisted"]]
    lab_day = day[~review]
    # Session key (SPEC §4): the explicit id, else the local day (epoch for explicit sessions).
    lab = lab.assign(session=lab["session"].fillna(""), day=lab_day,
                     kday=lab_day.where(lab["session"].isna(), pd.Timestamp(0)))
    keys = ["project", "labeler", "session", "kday"]
    session_date = lab.groupby(keys, sort=False)["day"].transform("min")
    cur = lab[(session_date >= lo) & (session_date <= hi)]
    t = cur["type"]
    cur = cur.assign(created=t == "annotation.created", deleted=t == "annotation.deleted",
                     updated=t == "annotation.updated", null=t == "image.marked_null",
                     is_ann=t.str.startswith("annotation."))
    cur = cur.assign(labeled=cur["is_ann"] | cur["null"],
                     assisted=(t == "image.model_assisted") | (cur["created"] & cur["modelAssisted"].fillna(False).astype(bool)))
    pair = ["project", "labeler"]
    boxes = cur.groupby(pair)[["created", "deleted", "updated"]].sum()
    images = cur.groupby([*keys, "image"])[["labeled", "null", "assisted"]].any()
    per_pair_images = images.groupby(level=pair).sum()
    ann = cur[cur["is_ann"]].groupby([*keys, "annotation"])[["created", "deleted"]].any()
    net = (ann["created"] & ~ann["deleted"]).groupby(level=pair).sum().rename("net")
    rv = df[review & (day >= lo) & (day <= hi)]
    reviews = pd.DataFrame({"approved": rv["type"] == "image.approved",
                            "rejected": rv["type"] == "image.rejected",
                            "project": rv["project"], "labeler": rv["labeler"]}).groupby(pair).sum()
    table = boxes.join([per_pair_images, net.to_frame()], how="outer").join(reviews, how="outer")
    table = table.fillna(0).astype("int64").sort_index()
    unique = images.groupby(level=["project", "image"]).any().sum()
    rows = [(False, *r) for r in table.reset_index()[
        ["project", "labeler", "created", "deleted", "updated", "net", "labeled", "null", "assisted",
         "approved", "rejected"]].itertuples(index=False, name=None)]
    rows.append((True, None, None, int(table["created"].sum()), int(table["deleted"].sum()),
                 int(table["updated"].sum()), int(table["net"].sum()), int(unique.get("labeled", 0)),
                 int(unique.get("null", 0)), int(unique.get("assisted", 0)),
                 int(table["approved"].sum()), int(table["rejected"].sum())))
    return shape([tuple(int(v) if hasattr(v, "item") else v for v in row) for row in rows])
