"""Traces, with OpenTelemetry: one trace from a request through every service that applies what
it recorded.

Every service runs the SDK's tracer provider. Spans are exported by OTLP over HTTP when
``OUTCOMES_TRACES_EXPORTER=otlp`` (to ``OUTCOMES_OTLP_ENDPOINT``) and go nowhere otherwise. The
official instrumentations make the spans of each request (FastAPI; not of probes, scrapes and
feed long-polls), of each SQL statement on the read models (SQLAlchemy) and of each webhook
sent (httpx).

The trace is carried across services through the feeds, not through HTTP headers: each stored
event records the W3C ``traceparent`` of the span that saved it (:class:`TracingMapper`, in
the stored state beside the event's own fields, never in its public payload), and each feed
entry carries it in its envelope (``traceparent``). A follower applies a page inside a span
whose parent is the page's first entry's trace, linked to the others' (:func:`applying`), so
the events it saves carry that trace on to the next feed. The intake's group commit does the
same for the requests it saves together (:func:`grouped`). An event saved with no span
around it (a background worker's) has no ``traceparent``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Mapper, StoredEvent
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

TRACE_KEY = "_traceparent"  # in a stored event's state: the span that saved it
UNTRACED_PATHS = "healthz,readyz,metrics,feed,docs,redoc,docs-assets,openapi.json"
_provider: TracerProvider | None = None
_exporting: set[str] = set()
tracer = trace.get_tracer("outcomes")


def configure_tracing(service: str, exporter: str, endpoint: str | None) -> TracerProvider:
    """The process's tracer provider (made once: a process runs one service), exporting to
    ``endpoint`` by OTLP when ``exporter`` is ``otlp``."""
    global _provider
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": service}))
        trace.set_tracer_provider(_provider)
    if exporter == "otlp" and endpoint is not None and endpoint not in _exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        target = endpoint.rstrip("/") + "/v1/traces"
        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=target)))
        _exporting.add(endpoint)
    return _provider


def instrument_app(app: Any) -> None:
    """Spans for the app's requests (but probes, scrapes and feed long-polls)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=UNTRACED_PATHS, exclude_spans=["receive", "send"]
    )


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
    """The W3C ``traceparent`` of the span now current, if one is being recorded."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


def _context_of(traceparent: str | None) -> otel_context.Context | None:
    return None if traceparent is None else extract({"traceparent": traceparent})


@contextmanager
def continued(name: str, traceparents: Sequence[str | None], **attributes: Any) -> Iterator[None]:
    """A span that continues the first trace given and links the others (work done for several
    requests or feed entries at once)."""
    known = [t for t in traceparents if t is not None]
    parent = _context_of(known[0]) if known else None
    links = []
    for other in dict.fromkeys(known[1:]):
        span_context = trace.get_current_span(_context_of(other)).get_span_context()
        if span_context.is_valid:
            links.append(trace.Link(span_context))
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
