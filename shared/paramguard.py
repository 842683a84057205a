"""Refuse control characters in a request's path and query before any route sees them.

A NUL (``%00``) in a query or path parameter used to reach a database that cannot store it and
answered 500 on fifteen routes (and the access trail could not record the request). No
parameter of this API may hold a control character or text that is not UTF-8, so this
middleware answers 422 naming the parameter, before any route runs; the trail records the
refusal like any other answer.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.types import Receive, Scope, Send

from shared.asgi import HttpMiddleware, send_problem

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parameter_problem(scope: Scope) -> tuple[str, str] | None:
    """(the parameter at fault, why), or None when the path and query are clean."""
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        return "path", "the path is not UTF-8 text"
    if CONTROL.search(path):
        return "path", "the path holds a control character"
    query = scope.get("query_string", b"").decode("latin-1")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return "query", "the query is not UTF-8 text"
    for name, value in pairs:
        if CONTROL.search(name):
            return "query", "a parameter name holds a control character"
        if CONTROL.search(value):
            return name, "a control character (such as NUL) is not allowed here"
    return None


class ParameterGuard(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = parameter_problem(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        field, message = found
        await send_problem(
            send, 422, "Invalid input", f"invalid fields: {field}",
            errors=[{"field": field, "message": message}],
        )  # fmt: skip
