"""Refuse JSON that Python would quietly accept: duplicate keys, NaN, deep nesting, bad text.

``json.loads`` keeps the last of two equal keys, accepts ``NaN`` and ``Infinity``, and lets lone
UTF-16 surrogates and NUL characters into strings; each could smuggle a value past validation or
fail later, after something was written. This middleware parses every JSON request body once with
strict hooks and answers 422 (problem+json) before any route runs.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from shared.asgi import HttpMiddleware, send_problem

MAX_DEPTH = 32
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
CSV_TYPES = frozenset({"text/csv"})  # providers' event files
CHECK_INLINE_BYTES = 64 * 1024
FORBIDDEN_CHARACTERS = {"\x00"}


class HostileJson(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise HostileJson(f"duplicate key {key!r}")
        found[key] = value
    return found


def _constant(name: str) -> Any:
    raise HostileJson(f"{name} is not a number JSON allows")


def check_json(body: bytes) -> None:
    """Raise :class:`HostileJson` for anything but plain, well-formed JSON text."""
    try:
        value = json.loads(body, object_pairs_hook=_pairs, parse_constant=_constant)
    except HostileJson:
        raise
    except (ValueError, RecursionError) as exc:
        raise HostileJson(f"not valid JSON: {exc}") from None
    _walk(value, 0)


def _walk(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise HostileJson(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _walk(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth + 1)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise HostileJson("a string holds a lone surrogate, which is not text") from None
    if FORBIDDEN_CHARACTERS & set(text):
        raise HostileJson("a string holds a NUL character")


def media_type(content_type: bytes) -> str:
    """The media type without its parameters, lower-cased: ``Application/JSON; charset=x``
    is ``application/json``."""
    return content_type.split(b";", 1)[0].strip().decode("latin-1").lower()


def is_json(media: str) -> bool:
    """``application/json`` and every ``+json`` type (merge-patch, problem, …)."""
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length", b"0").strip()
    return (length.isdigit() and int(length) > 0) or b"transfer-encoding" in headers


class JsonGuard(HttpMiddleware):
    """Every JSON body, whatever JSON media type it declares, goes through :func:`check_json`;
    a body of any type but JSON, YAML (rule books) or CSV (event files) is refused with 415."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", []))
        media = media_type(headers.get(b"content-type", b""))
        if not is_json(media):
            if has_body(headers) and media not in YAML_TYPES | CSV_TYPES:
                await _refuse(send, f"unsupported media type {media or 'none'!r}; send "
                              "application/json (YAML for rule books, CSV for event files)",
                              status=415)  # fmt: skip
                return
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            try:
                if len(body) > CHECK_INLINE_BYTES:  # a large body is checked off the loop
                    await run_in_threadpool(check_json, body)
                else:
                    check_json(body)
            except HostileJson as exc:
                await _refuse(send, str(exc))
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _refuse(send: Send, detail: str, status: int = 422) -> None:
    title = "Invalid input" if status == 422 else "Unsupported media type"
    await send_problem(send, status, title, detail, errors=[{"field": "body", "message": detail}])
