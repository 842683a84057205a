"""What every service's FastAPI app has: error mapping, body limits, auth, health."""

from __future__ import annotations

import datetime as dt
import gc
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import openapi_examples as examples
from shared.apidocs import install_docs
from shared.asgi import HttpMiddleware, RequestId, send_problem
from shared.auth import Principal, Role, TokenSigner, require_unscoped
from shared.feed.envelope import MAX_POSITION
from shared.feed.follower import Follower
from shared.feed.server import digest_router, feed_router
from shared.jsonguard import JsonGuard
from shared.logs import RequestLog, configure_logging
from shared.openapi import document_common_responses
from shared.paramguard import ParameterGuard
from shared.problems import DATABASE_RETRY_AFTER_S, install_error_handlers, problem
from shared.readiness import Check, Readiness, as_json
from shared.settings import CommonSettings
from shared.telemetry import CONTENT_TYPE_LATEST, RequestMetrics, Telemetry
from shared.tracing import configure_tracing, instrument_app, instrument_engine
from shared.trail import AccessTrail, TrailWriter, read_trail


def watch_replica(
    app: FastAPI,
    common: CommonSettings,
    engine: Engine,
    migrations: tuple[str, Path],
    followers: Sequence[Follower],
) -> Readiness:
    """What ``/readyz`` and ``/metrics`` watch of this replica: its read models' store and
    migrations (version table, script folder) and the followers it runs. Close what it
    returns when the service stops. Its statements are traced when traces are exported
    (shared/tracing.py)."""
    if common.observability and common.traces_exporter != "none":
        instrument_engine(engine)  # a span a statement: their cost is worth it when exported
    version_table, script_location = migrations
    app.state.readiness = Readiness(
        engine, version_table, script_location, followers,
        common.ready_max_lag_s, common.ready_timeout_s,
    )  # fmt: skip
    app.state.telemetry.watch(followers)
    return app.state.readiness  # type: ignore[no-any-return]


class BodySizeLimit(HttpMiddleware):
    """Refuse request bodies over a limit with 413, before any of it is parsed; a path that
    matches one of ``larger`` (a route taking whole files, which it streams) has that limit."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: Sequence[tuple[re.Pattern[str], int]] = ()
    ) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes
        self.larger = tuple(larger)

    def _limit(self, path: str) -> int:
        return next((limit for pattern, limit in self.larger if pattern.fullmatch(path)),
                    self.max_bytes)  # fmt: skip

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        max_bytes = self._limit(scope.get("path", ""))
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await _too_large(send, max_bytes)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(send, max_bytes)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, max_bytes: int) -> None:
    await send_problem(
        send, 413, "Payload too large", f"request bodies are limited to {max_bytes} bytes"
    )


def _frozen_after(
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]],
) -> Callable[[FastAPI], AbstractAsyncContextManager[Any]]:
    """Once a service has started, what it built lives as long as it does: freezing it keeps
    the garbage collector's full collections from rescanning it (each one pauses every thread,
    health checks included)."""

    @asynccontextmanager
    async def started(app: FastAPI) -> AsyncIterator[Any]:
        async with lifespan(app) as state:
            gc.freeze()
            try:
                yield state
            finally:  # the trail's last rows, before the service closes its store
                app.state.trail_writer.close()

    return started


def build_app(
    *,
    service: str,
    title: str,
    description: str,
    common: CommonSettings,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]],
    max_body_bytes: int,
    routers: Sequence[APIRouter],
    larger_bodies: Sequence[tuple[re.Pattern[str], int]] = (),
) -> FastAPI:
    """The service's app: the guards, trail, telemetry and health routes every service has,
    its store's feed and digest (of ``app.state.application``), then ``routers``."""
    common.check_secrets()
    configure_logging(common.log_level, common.log_format)
    if common.observability:
        endpoint = None if common.otlp_endpoint is None else str(common.otlp_endpoint)
        configure_tracing(f"outcomes-{service}", common.traces_exporter, endpoint)
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=_frozen_after(lifespan),
        docs_url=None,  # served from installed files instead of a CDN (shared/apidocs.py)
        redoc_url=None,
        # FastAPI's own OpenTelemetry spans, metrics and logs start whenever a tracer provider
        # is set; requests are traced by shared/tracing.py, metrics and logs are our own
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_docs(app)
    app.state.signer = TokenSigner.from_settings(common)
    install_error_handlers(app)
    app.add_middleware(JsonGuard)
    app.add_middleware(ParameterGuard)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, larger=larger_bodies)
    app.state.trail_writer = TrailWriter(lambda: getattr(app.state, "engine", None))
    app.add_middleware(
        AccessTrail, writer=app.state.trail_writer, signer_of=lambda: app.state.signer
    )
    app.state.telemetry = Telemetry()
    if common.observability:  # off only to measure what it costs (bench/observability.py)
        app.add_middleware(RequestMetrics, telemetry=app.state.telemetry)
        app.add_middleware(RequestLog)
    app.add_middleware(RequestId)  # every answer, refusals included, has the id
    if common.observability:
        instrument_app(app)  # outermost: the request's span is current in all the others
    app.include_router(trail_router())

    @app.get("/healthz", summary="Liveness probe", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers. Needs no token."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness probe",
        tags=["health"],
        response_model=ReadyOut,
        responses={503: {"description": "Not ready: the problem names each failing check"}},
    )
    async def readyz(request: Request) -> Any:
        """Readiness: the database answers, migrations are at head, and each follower keeps
        up (or stands by behind a replica that does). Needs no token."""
        readiness: Readiness | None = getattr(request.app.state, "readiness", None)
        checks = [Check("service", False, "starting")]
        if readiness is not None:
            checks = await readiness.checks()
        failing = [check for check in checks if not check.ok]
        if not failing:
            return {"status": "ready", "checks": as_json(checks)}
        return problem(
            503,
            "Not ready",
            "; ".join(f"{check.name}: {check.detail}" for check in failing),
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
            checks=as_json(checks),
        )

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        tags=["health"],
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus exposition"}},
    )
    def metrics(
        request: Request,
        _: Annotated[Principal, Depends(require_unscoped(Role.SERVICE, Role.ADMIN))],
    ) -> PlainTextResponse:
        """Prometheus metrics of this replica (see ``shared/telemetry.py``): a service token
        or an unscoped admin token."""
        telemetry: Telemetry = request.app.state.telemetry
        return PlainTextResponse(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(feed_router(_application))
    app.include_router(digest_router(_application))
    for router in routers:
        app.include_router(router)
    document_common_responses(app)
    return app


def _application(request: Request) -> Any:
    return request.app.state.application


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class ReadyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.READY_OUT]})
    status: str
    checks: list[CheckOut]


class TrailEntryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TRAIL_ENTRY_OUT]})
    id: int
    at: dt.datetime
    actor: str
    method: str
    path: str
    query: str
    status: int
    duration_ms: int


def trail_router() -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get(
        "/v1/audit/access-trail",
        summary="Read the access trail",
        response_model=list[TrailEntryOut],
    )
    def get_access_trail(
        request: Request,
        _: Annotated[Principal, Depends(require_unscoped(Role.AUDITOR, Role.ADMIN))],
        after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        actor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> list[TrailEntryOut]:
        """Who did what and when, oldest first; page with `after` (the last id seen)."""
        rows = read_trail(request.app.state.engine, after, limit, actor)
        return [TrailEntryOut.model_validate(row) for row in rows]

    return router
