"""CSV rendering of stats rows: the same columns for the CLI and `GET /{workspace}/stats.csv`."""

from __future__ import annotations

import csv
import io

COLUMNS = (
    "projectId", "projectName", "projectType", "labelerId", "workspaceId", "imagesLabeled",
    "boxesDrawn", "markedNull", "modelAssisted", "approved", "rejected", "approvalRate",
    "netBoxesAdded", "netBoxesUpdated", "boxesAdded", "boxesRemoved", "boxesUpdated",
)


def rows_to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return out.getvalue()
