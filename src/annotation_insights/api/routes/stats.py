"""`GET /{workspace}/stats`: the Roboflow-compatible annotation insights endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Query

from annotation_insights.api.responses import JSONResponse
from annotation_insights.api.deps import DatabaseDep, ReadKey, SettingsDep
from annotation_insights.api.schemas import StatsResponse
from annotation_insights.metrics.query import StatsQuery, run_stats

router = APIRouter(tags=["stats"])


@router.get("/{workspace}/stats", response_model=StatsResponse,
            responses={400: {}, 401: {}, 403: {}, 404: {}})
def get_stats(workspace: str, key: ReadKey, db: DatabaseDep, settings: SettingsDep,
              startDate: str | None = Query(None, description="YYYY-MM-DD, workspace-local, inclusive"),
              endDate: str | None = Query(None, description="YYYY-MM-DD, workspace-local, inclusive"),
              project: str | None = Query(None, description="project slug"),
              userId: str | None = Query(None, description="labeler id"),
              api_key: str | None = Query(None, description="API key (or Authorization: Bearer)")) -> JSONResponse:
    query = StatsQuery.parse(start=startDate, end=endDate, project=project, user_id=userId,
                             availability=settings.availability_date)
    return JSONResponse(run_stats(db, key.workspace, query))
