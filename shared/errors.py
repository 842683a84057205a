"""The error hierarchy every service raises below the route layer.

Services subclass these next to the code that raises them. This module is pure: it imports no
web framework, so the rule engine, the domains and the auditor load without one.
:mod:`shared.problems` maps these errors to RFC 9457 ``application/problem+json`` answers.
Nothing below the routes raises ``HTTPException``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


class TooMany(Busy):
    """The caller has too much under way; it should retry after ``retry_after_s``."""

    status = 429
    title = "Too many requests"


# The problem answers most routes can give, for their OpenAPI ``responses``.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid bearer token"},
    403: {"description": "Role or scope does not allow this"},
    422: {"description": "Invalid input; `errors` names each field at fault"},
}
