"""The collector application, built by `create_app(settings)` (no globals at import)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from lomsong import __version__
from lomsong.collector.alerts.service import alerts_forever
from lomsong.collector.bodylimit import BodyLimit
from lomsong.collector.city_rollup import city_refresh_forever
from lomsong.collector.dashboard import install_dashboard, snapshot_key, survey_config
from lomsong.collector.dashboard.warm import warm_forever
from lomsong.collector.errors import DatabaseUnavailable, StorageError
from lomsong.collector.phone import install_phone
from lomsong.collector.ratelimit import ApiLimits
from lomsong.collector.routes import health, measurements, probes
from lomsong.collector.schemas import Batch, ErrorBody, ErrorItem, error_body
from lomsong.collector.settings import Settings
from lomsong.collector.storage.migrate import migrate

__all__ = ["APPLICATION_NAME", "create_app"]

APPLICATION_NAME = "lomsong-collector"

log = logging.getLogger(__name__)


def _make_pool(settings: Settings, conninfo: str) -> ConnectionPool:
    return ConnectionPool(
        conninfo,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_s,
        # named in pg_stat_activity, so an operator (and the fault tests) can tell the
        # collector's sessions from TimescaleDB's jobs and other clients
        kwargs={"autocommit": True, "application_name": APPLICATION_NAME},
        check=ConnectionPool.check_connection,
        open=False,
        name="lomsong",
    )


def _document_batch(app: FastAPI) -> None:
    """Add the `Batch` body schema, which the ingest route reads raw for speed and size limits."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            batch = Batch.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(batch.pop("$defs", {}))
            components["Batch"] = batch
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings) -> FastAPI:
    """Build the collector for `settings`; `settings.database_url` must be set by the caller."""
    if settings.database_url is None:
        raise ValueError("settings.database_url is required (lomsong serve starts the embedded one)")
    conninfo = settings.database_url

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            status = migrate(conninfo)
            log.info("database tier %s, migrations current", status.tier.value)
        pool = _make_pool(settings, conninfo)
        pool.open(wait=True, timeout=settings.pool_timeout_s)
        app.state.pool = pool
        alerts = (asyncio.create_task(alerts_forever(pool, settings))
                  if settings.alert_interval_s > 0 else None)
        app.state.alerts_task = alerts
        city_refresh = None
        if settings.city_refresh_interval_s > 0:
            app.state.city_refresh_event = asyncio.Event()
            city_refresh = asyncio.create_task(city_refresh_forever(
                pool, settings.city_refresh_interval_s, app.state.city_refresh_event,
                survey_config(settings),
                snapshot_key(settings) if settings.survey_keep else ""))
        warm = (asyncio.create_task(warm_forever(app.state.survey_cache, pool,
                                                 settings.survey_warm_interval_s))
                if settings.survey_warm_interval_s > 0 else None)
        try:
            yield
        finally:
            if warm is not None:
                warm.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await warm
            if alerts is not None:
                alerts.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await alerts
            if city_refresh is not None:
                city_refresh.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await city_refresh
            app.state.survey_cache.close()
            pool.close()

    app = FastAPI(
        title="lomsong collector",
        version=__version__,
        summary="Ingest and query of mobile and fixed broadband measurements",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.api_limits = ApiLimits.from_settings(settings)
    app.include_router(health.router)
    app.include_router(measurements.router)
    app.include_router(probes.router)
    # Innermost of the middlewares: its 413 replies get the security headers too.
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes,
                       phone_payload_bytes=settings.phone_payload_max_bytes)
    install_dashboard(app, settings)
    install_phone(app, settings)
    retry_after = {"Retry-After": str(settings.retry_after_s)}
    _document_batch(app)

    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(psycopg.OperationalError)
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        body = ErrorBody(detail="database unavailable; nothing was stored, retry later")
        return JSONResponse(body.model_dump(), status_code=503, headers=retry_after)

    @app.exception_handler(StorageError)
    async def storage_error(request: Request, exc: StorageError) -> JSONResponse:
        log.error("storage error: %s", exc)
        body = ErrorBody(detail="storage error; nothing was stored, retry later")
        return JSONResponse(body.model_dump(), status_code=503, headers=retry_after)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # Normal on mobile links: one line, no traceback; the probe resends the batch.
        log.info("client %s went away during %s %s; nothing was stored",
                 request.client.host if request.client else "?", request.method, request.url.path)
        return Response(status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = ErrorBody(detail=str(exc.detail))
        return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        found = exc.errors()
        errors = (ErrorItem(index=None, field=".".join(str(p) for p in e["loc"]), message=e["msg"])
                  for e in found)
        body = error_body("invalid request", errors, len(found))
        return JSONResponse(body.model_dump(), status_code=422)

    return app
