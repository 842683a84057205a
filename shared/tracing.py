"""Traces, with OpenTelemetry: one trace from a request through every service that applies what
it recorded.

Every service runs the SDK's tracer provider. Spans are exported by OTLP over HTTP when
``OUTCOMES_TRACES_EXPORTER=otlp`` (to ``OUTCOMES_OTLP_ENDPOINT``) and go nowhere otherwise. The
official instrumentations make the spans of each request (ASGI, under FastAPI; not of probes,
scrapes and feed long-polls), of each webhook sent (httpx) and, when traces are exported,
of each SQL statement on the read models (SQLAlchemy: a span a statement cost a fifth of a
single-event POST's throughput in bench/observability.py: too much for spans nobody receives).

The trace is carried across services through the feeds, not through HTTP headers: each stored
event records the W3C ``traceparent`` of the span that saved it (:class:`TracingMapper`, in
the stored state beside the event's own fields, never in its public payload), and each feed
entry carries it in its envelope (``traceparent``). A follower applies a page inside a span
whose parent is the page's first entry's trace, linked to the others' (:func:`applying`), so
the events it saves carry that trace on to the next feed. The intake's group commit does the
same for the requests it saves together (:func:`grouped`). An event saved with no span
around it (a background worker's) has no ``traceparent``, nor has one saved while spans are not
recorded (no exporter): each request then runs in a bare span, of the caller's trace when its
``traceparent`` header names one, whose ids go into that service's logs only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Mapper, StoredEvent
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.asgi import HttpMiddleware

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
TRACE_KEY = "_traceparent"  # in a stored event's state: the span that saved it
UNTRACED_PATHS = "healthz,readyz,metrics,feed,docs,redoc,docs-assets,openapi.json"
_provider: TracerProvider | None = None
_exporting: set[str] = set()
tracer = trace.get_tracer("outcomes")


class _Recording(Sampler):
    """Spans are recorded (and exported) only while something receives them; otherwise each is
    a bare context: its trace and span ids still travel with the events and into the logs, at
    a fraction of the cost (bench/observability.py)."""

    def __init__(self) -> None:
        self.on = False
        self._recorded = ParentBased(ALWAYS_ON)

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return (self._recorded if self.on else ALWAYS_OFF).should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return f"Recording({'on' if self.on else 'off'})"


SAMPLER = _Recording()


def configure_tracing(service: str, exporter: str, endpoint: str | None) -> TracerProvider:
    """The process's tracer provider (made once: a process runs one service), exporting to
    ``endpoint`` by OTLP when ``exporter`` is ``otlp``."""
    global _provider
    if _provider is None:
        resource = Resource.create({"service.name": service})
        _provider = TracerProvider(resource=resource, sampler=SAMPLER)
        trace.set_tracer_provider(_provider)
    if exporter == "otlp" and endpoint is not None and endpoint not in _exporting:
        SAMPLER.on = True
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        target = endpoint.rstrip("/") + "/v1/traces"
        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=target)))
        _exporting.add(endpoint)
    return _provider


def instrument_app(app: Any) -> None:
    """Spans for the app's requests (but probes, scrapes and feed long-polls), outermost: by
    the official ASGI instrumentation while spans are recorded, and otherwise by
    :class:`_Traced`'s bare context (the instrumentation costs 0.1 ms a request even when it
    records nothing: it reads every header into attributes first)."""
    app.add_middleware(_Traced)


class _Traced(HttpMiddleware):
    """While spans are recorded, the official ASGI instrumentation. Its FastAPI wrapper names
    each span by searching every route for the request's before the request runs (0.4 ms a
    request here, sampled or not); this names it by the method, and :class:`_SpanRoute` adds
    the route template when the answer starts (routing has found it by then; the span ends
    with the answer). While nothing is recorded, the request runs in a bare span of the
    caller's trace (its ``traceparent`` header) or a new one: its ids still go into the logs
    and, through the events it saves, down the feeds."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        self._recorded = OpenTelemetryMiddleware(
            _SpanRoute(app),
            excluded_urls=UNTRACED_PATHS,
            default_span_details=lambda scope: (scope.get("method", "HTTP"), {}),
            exclude_spans=["receive", "send"],
        )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if SAMPLER.on:
            await self._recorded(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"traceparent"), b"")
        with continued(scope["method"], [given.decode("latin-1")]):
            await self.app(scope, receive, send)


class _SpanRoute(HttpMiddleware):
    """Names the request's span by its route template, as the FastAPI instrumentation does."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def named(message: Message) -> None:
            route = getattr(scope.get("route"), "path", None)
            span = trace.get_current_span()
            if message["type"] == "http.response.start" and route and span.is_recording():
                span.update_name(f"{scope['method']} {route}")
                span.set_attribute("http.route", route)
            await send(message)

        await self.app(scope, receive, named)


def instrument_engine(engine: Any) -> None:
    """Spans for each SQL statement an engine runs."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # the instrumentation declares SQLAlchemy < 2.1; the engine events it uses are 2.1's too
    # (tests/test_tracing.py sees its statement spans)
    SQLAlchemyInstrumentor().instrument(engine=engine, enable_commenter=False, skip_dep_check=True)


def instrument_client(client: Any) -> None:
    """Spans for each request an httpx client sends, with the trace in its headers."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the span now current, if it is sampled (recorded, for an
    exporter): a trace nobody receives is not worth storing with every event (72 bytes an
    event: 13 % of a single-event POST's throughput in bench/observability.py).

    Formatted here rather than by the propagator (``inject``): it runs for every event saved,
    and the propagator's generic carrier costs five times as much."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid or not span_context.trace_flags.sampled:
        return None
    return (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-"
        f"{span_context.trace_flags:02x}"
    )


def _span_context_of(traceparent: str) -> trace.SpanContext | None:
    """A stored ``traceparent`` (as :func:`current_traceparent` wrote it) read back; None for
    anything else (a stored value is never trusted to be well formed)."""
    match = _TRACEPARENT.fullmatch(traceparent)
    if match is None:
        return None
    span_context = trace.SpanContext(
        trace_id=int(match[1], 16),
        span_id=int(match[2], 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(int(match[3], 16)),
    )
    return span_context if span_context.is_valid else None


@contextmanager
def continued(name: str, traceparents: Sequence[str | None], **attributes: Any) -> Iterator[None]:
    """A span that continues the first trace given and links the others (work done for several
    requests or feed entries at once). The links are made only while spans are recorded: a
    page of a follower has as many traces as entries, and nobody would receive them."""
    known = [c for c in map(_span_context_of, filter(None, traceparents)) if c is not None]
    parent = trace.set_span_in_context(trace.NonRecordingSpan(known[0])) if known else None
    links = [trace.Link(c) for c in dict.fromkeys(known[1:])] if SAMPLER.on else []
    with tracer.start_as_current_span(name, context=parent, links=links, attributes=attributes):
        yield


def applying(follower: str, entries: Sequence[Any]) -> Any:
    """The span a follower applies a page in."""
    return continued(
        f"apply {follower}", [getattr(e, "traceparent", None) for e in entries],
        **{"outcomes.follower": follower, "outcomes.entries": len(entries)},
    )  # fmt: skip


def grouped(traceparents: Sequence[str | None]) -> Any:
    """The span the intake's group commit saves several requests' events in."""
    return continued(
        "intake group commit", traceparents, **{"outcomes.requests": len(traceparents)}
    )


class TracingMapper(Mapper[Any]):
    """The library's mapper, recording the current span's ``traceparent`` in each stored
    event's state (not in snapshots); read back, it stays on the domain event, where
    :data:`shared.feed.envelope.STORE_ENVELOPE` keeps it out of the public payload."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        traceparent = current_traceparent()
        if traceparent is None or isinstance(domain_event, Snapshot):
            return super().to_stored_event(domain_event)
        traced = object.__new__(type(domain_event))
        object.__setattr__(traced, "__dict__", {**vars(domain_event), TRACE_KEY: traceparent})
        return super().to_stored_event(traced)
