"""What every service's FastAPI app has: error mapping, body limits, auth, health."""

from __future__ import annotations

import datetime as dt
import gc
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import Principal, Role, TokenSigner, require_unscoped
from shared.errors import PROBLEM_JSON
from shared.feed.envelope import MAX_POSITION
from shared.jsonguard import JsonGuard
from shared.openapi import document_common_responses
from shared.paramguard import ParameterGuard
from shared.problems import install_error_handlers
from shared.settings import CommonSettings
from shared.trail import AccessTrail, read_trail


class BodySizeLimit:
    """Refuse request bodies over a limit with 413, before any of it is parsed; a path that
    matches one of ``larger`` (a route taking whole files, which it streams) has that limit."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: Sequence[tuple[re.Pattern[str], int]] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = tuple(larger)

    def _limit(self, path: str) -> int:
        return next((limit for pattern, limit in self.larger if pattern.fullmatch(path)),
                    self.max_bytes)  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
    body = (
        '{"type":"about:blank","title":"Payload too large","status":413,'
        f'"detail":"request bodies are limited to {max_bytes} bytes"}}'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


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
            yield state

    return started


def build_app(
    *,
    title: str,
    description: str,
    common: CommonSettings,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]],
    max_body_bytes: int,
    larger_bodies: Sequence[tuple[re.Pattern[str], int]] = (),
) -> FastAPI:
    common.check_secrets()
    app = FastAPI(
        title=title, description=description, version="0.1.0", lifespan=_frozen_after(lifespan)
    )
    app.state.signer = TokenSigner.from_settings(common)
    install_error_handlers(app)
    app.add_middleware(JsonGuard)
    app.add_middleware(ParameterGuard)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, larger=larger_bodies)
    app.add_middleware(
        AccessTrail,
        engine_of=lambda: getattr(app.state, "engine", None),
        signer_of=lambda: app.state.signer,
    )
    app.include_router(trail_router())

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers. Needs no token."""
        return {"status": "ok"}

    document_common_responses(app)
    return app


class TrailEntryOut(BaseModel):
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

    @router.get("/v1/audit/access-trail", response_model=list[TrailEntryOut])
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
