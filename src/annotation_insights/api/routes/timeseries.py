"""`GET /{workspace}/stats/timeseries`: the stats metrics per day, ISO week or month."""

from __future__ import annotations

from fastapi import APIRouter, Query

from annotation_insights.api.deps import DatabaseDep, ReadKey, SettingsDep
from annotation_insights.api.responses import JSONResponse
from annotation_insights.metrics.timeseries import TimeseriesQuery, run_timeseries

router = APIRouter(tags=["stats"])


@router.get("/{workspace}/stats/timeseries", responses={400: {}, 401: {}, 403: {}, 404: {}})
def get_timeseries(
        workspace: str, key: ReadKey, db: DatabaseDep, settings: SettingsDep,
        startDate: str | None = Query(None, description="YYYY-MM-DD, workspace-local, inclusive"),
        endDate: str | None = Query(None, description="YYYY-MM-DD, workspace-local, inclusive"),
        granularity: str | None = Query(None, description="day (default), week (ISO, from Monday) or month"),
        project: str | None = Query(None, description="project slug"),
        userId: str | None = Query(None, description="labeler id"),
        groupBy: str | None = Query(None, description="labeler or project: per-group series too"),
        api_key: str | None = Query(None, description="API key (or Authorization: Bearer)")) -> JSONResponse:
    """Every `data[]` metric and the unique-image totals per period, zero-filled, plus the
    range total. Sums of a daily series equal `/stats` for every field but the unique-image
    counts and `approvalRate` (listed in `meta.nonAdditive`)."""
    query = TimeseriesQuery.parse(granularity=granularity, group_by=groupBy, start=startDate,
                                  end=endDate, project=project, user_id=userId,
                                  availability=settings.availability_date)
    return JSONResponse(run_timeseries(db, key.workspace, query))
