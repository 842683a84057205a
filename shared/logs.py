"""Structured logs, with structlog.

Every line a service writes (its own, uvicorn's, the libraries') goes through one handler on
the root logger: one JSON object a line (``OUTCOMES_LOG_FORMAT=json``, the default) or a
human-readable line (``console``, what ``make run`` uses). Each carries its time (UTC), level,
logger, the id of the request it was written for (``request_id``, as in the ``X-Request-ID``
header and every problem body), and the trace and span it was written in (``trace_id``,
``span_id``: shared/tracing.py).

One line a request (:class:`RequestLog`, uvicorn's own access log is off): method, route
template, status, duration in milliseconds, and the caller's role and subject id (never a
token, never a path's values: the template names a route without the ids in it). Health
checks, scrapes of ``/metrics`` and feed long-polls are logged at debug (and the followers' own
requests with them: httpx's request lines show only at debug), so a production log at info
holds what people and systems asked of the service, not its probes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace
from starlette.types import ASGIApp, Scope

from shared.asgi import REQUEST_ID, AfterEach
from shared.settings import LogFormat, LogLevel

ACTOR_KEY = "outcomes.actor"  # where the access trail leaves the caller it verified
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/feed"})
_HANDLER_NAME = "outcomes"


class _Stderr:
    """Standard error as it is when a line is written (a test runner swaps it per test)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _request_id(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The request's id, and the trace and span it is written in (shared/tracing.py)."""
    request_id = REQUEST_ID.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event.setdefault("trace_id", f"{span.trace_id:032x}")
        event.setdefault("span_id", f"{span.span_id:016x}")
    return event


def configure_logging(level: LogLevel, output: LogFormat, stream: TextIO | None = None) -> None:
    """Route every logger through one structlog formatter on the root logger. Safe to call
    again (each app a process builds calls it): the handler it added before is replaced, and
    handlers others added (a test runner's) are left alone."""
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    chain: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
        _request_id,
    ]
    renderer: Any
    if output == "json":
        renderer = structlog.processors.JSONRenderer()
        finish: list[Any] = [structlog.processors.dict_tracebacks]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        finish = []
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=chain,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *finish, renderer],
    )
    handler = logging.StreamHandler(stream if stream is not None else _Stderr())
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx says every request it makes at info: the followers' long-polls, every two seconds
    chatty = logging.DEBUG if level == "debug" else logging.WARNING
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(chatty)
    for name in ("uvicorn", "uvicorn.error"):
        server = logging.getLogger(name)
        server.handlers.clear()  # uvicorn's own plain-text handlers: through ours instead
        server.propagate = True
        server.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")  # RequestLog says more, with the caller
    access.handlers.clear()
    access.propagate = False
    structlog.configure(
        processors=[*chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _level(path: str, status: int) -> int:
    if status >= 500:
        return logging.ERROR
    return logging.DEBUG if path in QUIET_PATHS else logging.INFO


class RequestLog(AfterEach):
    """One line a request: what was asked, by whom, how it ended and how long it took."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.log = structlog.stdlib.get_logger("outcomes.requests")

    async def after(self, scope: Scope, status: int, elapsed_s: float) -> None:
        level = _level(scope["path"], status)
        if not self.log.isEnabledFor(level):
            return
        fields: dict[str, Any] = {
            "method": scope["method"],
            "route": getattr(scope.get("route"), "path", "unmatched"),
            "status": status,
            "duration_ms": round(elapsed_s * 1000, 1),
        }
        actor = scope.get(ACTOR_KEY)
        if actor is not None:
            role, _, subject = str(actor).partition(":")
            fields["role"] = role
            if subject:
                fields["subject"] = subject
        self.log.log(level, "request", **fields)
