"""`GET /{workspace}/stats.csv`: the `/stats` rows as a spreadsheet, one per project × labeler."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from annotation_insights.api.deps import DatabaseDep, ReadKey, SettingsDep
from annotation_insights.metrics.export import rows_to_csv
from annotation_insights.metrics.query import StatsQuery, run_stats

router = APIRouter(tags=["stats"])


@router.get("/{workspace}/stats.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}, 400: {}, 401: {}, 403: {}, 404: {}})
def get_stats_csv(workspace: str, key: ReadKey, db: DatabaseDep, settings: SettingsDep,
                  startDate: str | None = Query(None, description="YYYY-MM-DD, workspace-local, inclusive"),
                  endDate: str | None = Query(None, description="YYYY-MM-DD, workspace-local, inclusive"),
                  project: str | None = Query(None, description="project slug"),
                  userId: str | None = Query(None, description="labeler id"),
                  api_key: str | None = Query(None, description="API key (or Authorization: Bearer)")) -> Response:
    """The same rows and columns as `annotation-insights stats --format csv`, with a header row."""
    query = StatsQuery.parse(start=startDate, end=endDate, project=project, user_id=userId,
                             availability=settings.availability_date)
    rows = run_stats(db, key.workspace, query)["data"]
    filename = f"{key.workspace.slug}-stats-{query.start}-{query.end}.csv"
    return Response(rows_to_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
