"""The error hierarchy every service raises below the route layer, and its problem+json mapping.

Services subclass these next to the code that raises them; :func:`install_error_handlers` maps
them to RFC 9457 ``application/problem+json`` answers. Nothing below the routes raises
``HTTPException``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.line is not None:
            found["line"] = self.line
        return found


class OutcomesError(Exception):
    """Base of every error the services raise on purpose."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = dict(extra or {})


class NotFound(OutcomesError):
    status = 404
    title = "Not found"


class Conflict(OutcomesError):
    status = 409
    title = "Conflict"


class InvalidInput(OutcomesError):
    status = 422
    title = "Invalid input"

    def __init__(
        self,
        detail: str,
        problems: Sequence[FieldProblem] = (),
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, extra=extra)
        self.problems = list(problems)


class Unauthenticated(OutcomesError):
    status = 401
    title = "Unauthenticated"


class Forbidden(OutcomesError):
    status = 403
    title = "Forbidden"


class PayloadTooLarge(OutcomesError):
    status = 413
    title = "Payload too large"


class Busy(OutcomesError):
    """The service cannot take this now; the client should retry after ``retry_after_s``."""

    status = 503
    title = "Busy"

    def __init__(
        self, detail: str, *, retry_after_s: int = 1, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(detail, extra=extra)
        self.retry_after_s = retry_after_s


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    body.update(extra)
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
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid bearer token"},
    403: {"description": "Role or scope does not allow this"},
    422: {"description": "Invalid input; `errors` names each field at fault"},
}
