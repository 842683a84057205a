"""The HTTP edge of the error hierarchy: every error as an RFC 9457 problem+json answer.

:func:`install_error_handlers` maps :class:`~shared.errors.OutcomesError` and its kin, request
validation errors, routing errors and database outages to ``application/problem+json``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.asgi import problem_body
from shared.errors import PROBLEM_JSON, Busy, InvalidInput, OutcomesError


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = problem_body(status, title, detail, **extra)
    sent = dict(headers or {})
    if status == 401:
        sent["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=sent or None)


def _field_name(location: Sequence[Any]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _on_outcomes_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OutcomesError)
    extra = dict(exc.extra)
    if isinstance(exc, InvalidInput):
        extra["errors"] = [p.as_dict() for p in exc.problems]
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Busy) else None
    return problem(exc.status, exc.title, exc.detail, headers=headers, **extra)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field_name(err.get("loc", ())), "message": str(err.get("msg", "invalid"))}
        for err in exc.errors()
    ]
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem(422, "Invalid input", f"invalid fields: {fields}", errors=errors)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # every method any route allows on this path, not only one's
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem(exc.status_code, str(exc.detail), str(exc.detail), headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """The methods of every operation the OpenAPI document has for this path."""
    allowed: set[str] = set()
    for pattern, methods in _operations(request.app):
        if pattern.fullmatch(request.url.path):
            allowed |= methods
    if "GET" in allowed:
        allowed.add("HEAD")
    return sorted(allowed)


def _operations(app: FastAPI) -> list[tuple[re.Pattern[str], set[str]]]:
    found: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "operations", None)
    if found is None:
        found = [
            (
                re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))),
                {method.upper() for method in item if method.upper() in HTTP_METHODS},
            )
            for path, item in app.openapi().get("paths", {}).items()
        ]
        app.state.operations = found
    return found


DATABASE_RETRY_AFTER_S = 5


async def _on_database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """The store cannot be reached (refused, timed out, or lost): 503, never a 500."""
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return problem(
        503,
        "Database unavailable",
        "the service cannot reach its database just now; retry shortly",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


def database_unavailable_errors() -> tuple[type[Exception], ...]:
    """The drivers' and libraries' errors that mean the database cannot be reached."""
    import psycopg
    import sqlalchemy.exc
    from eventsourcing import persistence

    return (
        psycopg.OperationalError,  # psycopg_pool.PoolTimeout among them
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.TimeoutError,  # no pooled connection within the timeout
        persistence.OperationalError,
        persistence.InterfaceError,
        persistence.ConnectionUnavailableError,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OutcomesError, _on_outcomes_error)
    for error in database_unavailable_errors():
        app.add_exception_handler(error, _on_database_unavailable)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)


log = logging.getLogger(__name__)
HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD"})
