"""What the pure-ASGI middlewares share: the request id, a status-noting ``send``, and one way
to answer with a problem before any route runs."""

from __future__ import annotations

import json
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PROBLEM_JSON

REQUEST_ID: ContextVar[str | None] = ContextVar("outcomes_request_id", default=None)
# a caller's X-Request-ID is kept only when it is this plain: never echoed otherwise
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class HttpMiddleware:
    """A pure ASGI middleware for HTTP requests: what it does not :meth:`handle` (lifespan,
    websockets, and the requests its ``handles`` passes over) goes straight to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def handles(self, scope: Scope) -> bool:
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.handles(scope):
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class AfterEach(HttpMiddleware):
    """Runs each request, then :meth:`after` with the status it ended with (500 if it failed
    before answering) and the seconds it took, whether it answered or raised."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        noted = StatusNoted(send)
        try:
            await self.app(scope, receive, noted)
        finally:
            await self.after(scope, noted.status, time.perf_counter() - started)

    async def after(self, scope: Scope, status: int, elapsed_s: float) -> None:
        raise NotImplementedError


class RequestId(HttpMiddleware):
    """Gives every request an id: the caller's ``X-Request-ID`` when it is plain (at most 128
    letters, digits and ``._:-``), else a new one; returned as ``X-Request-ID`` and in every
    problem+json body (``request_id``), for the caller to quote and the logs to find."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _PLAIN_ID.fullmatch(given) else uuid.uuid4().hex

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, with_id)
        finally:
            REQUEST_ID.reset(token)


def problem_body(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """An RFC 9457 problem, with the request's id when there is one."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    body.update(extra)
    request_id = REQUEST_ID.get()
    if request_id is not None:
        body["request_id"] = request_id
    return body


async def send_problem(send: Send, status: int, title: str, detail: str, **extra: Any) -> None:
    """Answer with a problem straight from a middleware (before any route or handler)."""
    payload = json.dumps(problem_body(status, title, detail, **extra)).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class StatusNoted:
    """A ``send`` that passes every message on and notes the response's status (500 until a
    response starts: what a request that failed before answering counts as)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)
