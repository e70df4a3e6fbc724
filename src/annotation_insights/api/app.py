"""The FastAPI application: routers, the one error shape, key redaction, lifespan."""

from __future__ import annotations

import functools
import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from annotation_insights import __version__
from annotation_insights.api.limits import OverloadGuard
from annotation_insights.api.logging import install_redaction
from annotation_insights.api.responses import JSONResponse
from annotation_insights.api.routes import (
    dashboard, events, exports, integrations, reference, root, stats, timeseries)
from annotation_insights.errors import ApiError
from annotation_insights.events.ingest import warm_up
from annotation_insights.settings import Settings
from annotation_insights.store import open_configured
from annotation_insights.store.database import Database

log = logging.getLogger("annotation_insights")
DOCS_ASSETS = "/docs-assets"
GZIP_MINIMUM_BYTES = 256 << 10

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def error_response(status: int, code: str, message: str, details: list | None = None,
                   headers: dict | None = None) -> JSONResponse:
    body = {"error": {"status": status, "code": code, "message": message, "details": details or []}}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict]:
    details = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            # pydantic locates a JSON syntax error at ("body", <char offset>): not a field.
            reason = (err.get("ctx") or {}).get("error", "malformed JSON")
            details.append({"index": None, "field": "body", "message": f"is not valid JSON: {reason}"})
            continue
        loc = [str(part) for part in err.get("loc", ())]
        field = ".".join(loc[1:]) if len(loc) > 1 else (loc[0] if loc else None)
        details.append({"index": None, "field": field, "message": err.get("msg", "invalid")})
    return details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return error_response(400, "invalid_json", "The request body is not valid JSON.",
                                  details)
        fields = ", ".join(d["field"] or "body" for d in details)
        return error_response(400, "bad_request", f"Invalid request: check {fields}.", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"No route for {request.method} {request.url.path}."
        elif exc.status_code == 405 and message == "Method Not Allowed":
            allowed = (getattr(exc, "headers", None) or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}; use {allowed}."
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "An internal error occurred; nothing was "
                                                     "changed by this request.")


@functools.cache  # once a process: what it settles lives as long as the process
def _settle_process() -> None:
    """Before the first request: the ingest path's one-time costs (`warm_up`), then what
    start-up made kept out of the garbage collector's full passes (`gc.freeze`), each of
    which scanned it all (~100,000 objects), pausing a request for 80-100 ms."""
    warm_up()
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    """An app over `db`, or over the database the settings name (opened at startup)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        install_redaction()
        owned = app.state.db is None
        if owned:
            app.state.db = open_configured(settings)
        await run_in_threadpool(_settle_process)
        try:
            yield
        finally:
            if owned:
                app.state.db.close()
                app.state.db = None

    # Swagger UI's assets ship with fastapi-offline, so /docs works without network access.
    app = FastAPIOffline(
        title="Annotation Insights",
        redoc_url=None,
        static_url=DOCS_ASSETS,
        version=__version__,
        description="What your labelers did, per workspace, project and labeler. "
                    "Wire-compatible with Roboflow's GET /{workspace}/stats.",
        lifespan=lifespan,
        responses={"4XX": {"model": _error_model()}},
    )
    app.state.settings = settings
    app.state.db = db
    install_error_handlers(app)
    # Deliberately no CORS middleware: pages on other origins cannot read any answer.
    app.add_middleware(OverloadGuard, settings=settings)
    # Large answers compressed for clients that accept it (browsers, httpx, requests): a
    # 90-day daily series by labeler at 10M events is 5.4 MB of JSON, 0.77 MB at level 1
    # in ~25 ms, in a worker thread (level 6: 0.44 MB in ~70 ms). Level 1, as nginx's
    # default. Smaller answers go as they are: compressing a 140 kB `/stats` answer cost
    # a client on the same machine 1-2 ms of its 17-30, and it crosses a 20 Mbit/s link
    # in a twentieth of a second anyway.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=1)
    # The more specific /{workspace}/stats.csv and /stats/timeseries come before /stats.
    for module in (root, events, exports, timeseries, stats, reference, integrations, dashboard):
        app.include_router(module.router)
    return app


def _error_model():
    from annotation_insights.api.schemas import ErrorResponse

    return ErrorResponse
