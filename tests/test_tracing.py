"""Issue 21, point 4: OpenTelemetry traces. A request's trace is recorded with the events it
saved, carried in the feed's envelope, and continued by the ledger when it applies them, so one
trace runs from a POST on the claims service to the ledger's booking; exporter settings are
checked at start; digests do not chain traces."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import get_current_span
from pydantic import ValidationError

from services.claims.api import create_app as claims_app
from services.claims.settings import ClaimsSettings
from services.ledger.api import create_app as ledger_app
from services.ledger.application import CLAIMS_TYPES
from services.ledger.settings import LedgerSettings
from shared.auth import Role, TokenSigner
from shared.feed.digest import entry_text
from shared.feed.envelope import FeedEntry
from shared.settings import CommonSettings
from shared.sqlviews import create_engine
from shared.tracing import (
    SAMPLER,
    _span_context_of,
    configure_tracing,
    continued,
    current_traceparent,
    instrument_engine,
)
from tests.claims.helpers import PROVIDER, story_json
from tests.conftest import over_http, register_ips, serving

POSTED_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
VERIFIED_TRACE = "0af7651916cd43dd8448eb211c80319c"


def _header(trace_id: str) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}


def _trace_of(entry: dict[str, Any]) -> str | None:
    traceparent = entry.get("traceparent")
    return None if traceparent is None else str(traceparent).split("-")[1]


@pytest.fixture(params=[True], ids=["recorded"])
def spans(request: pytest.FixtureRequest) -> Iterator[InMemorySpanExporter]:
    """Spans recorded (as when an exporter is configured), or with ``indirect`` False not."""
    exporter = InMemorySpanExporter()
    configure_tracing("outcomes-test", "none", None).add_span_processor(
        SimpleSpanProcessor(exporter)
    )
    recording, SAMPLER.on = SAMPLER.on, request.param
    yield exporter
    SAMPLER.on = recording
    exporter.shutdown()  # it keeps nothing more


@pytest.mark.parametrize("spans", [True, False], ids=["recorded", "not-recorded"], indirect=True)
async def test_one_trace_runs_from_a_post_to_the_ledgers_booking(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    """Recorded (an exporter configured), the trace runs from the caller's ``traceparent``
    through the events and feeds to the ledger's booking, and its spans show it. Not recorded,
    no event or feed entry carries a trace (nobody would receive it)."""
    common = CommonSettings(env="test", data_dir=tmp_path)
    signer = TokenSigner.from_settings(common)
    admin = {"Authorization": f"Bearer {signer.issue(Role.ADMIN)}"}
    provider = {"Authorization": f"Bearer {signer.issue(Role.PROVIDER, provider_id=PROVIDER)}"}
    verifier = {"Authorization": f"Bearer {signer.issue(Role.VERIFIER, subject='vera')}"}
    with over_http(claims_app(ClaimsSettings(), common)) as claims:
        register_ips(claims, admin)
        claim_ids: list[str] = []
        for index, event in enumerate(story_json()):
            trace = {} if index else _header(POSTED_TRACE)  # the referral's caller traces it
            posted = httpx.post(
                f"{claims}/v1/contracts/ips-employment/events",
                json=event,
                headers={**provider, **trace},
            )
            assert posted.status_code == 201, posted.text
            claim_ids += posted.json()["claim_ids"]
        feed = httpx.get(f"{claims}/feed", params={"limit": 1000}, headers=admin).json()["items"]
        referral = next(e for e in feed if e["type"] == "participant.event_recorded")
        if not SAMPLER.on:
            assert [e for e in feed if e.get("traceparent") is not None] == []
            return
        assert _trace_of(referral) == POSTED_TRACE  # saved by the group commit, in its trace

        app = ledger_app(LedgerSettings(claims_url=claims), common)
        async with serving(app) as ledger:
            # the ledger running and caught up (nothing to book yet), as in production
            last = max(e["position"] for e in feed if e["type"] in CLAIMS_TYPES)
            deadline = time.monotonic() + 15
            while app.state.follower.health.position < last:
                assert time.monotonic() < deadline, "the ledger did not catch up"
                await asyncio.sleep(0.05)
            verified = httpx.post(
                f"{claims}/v1/claims/{claim_ids[0]}/verify",
                json={"note": "seen"},
                headers={**verifier, **_header(VERIFIED_TRACE)},
            )
            assert verified.status_code == 200, verified.text
            claims_feed = httpx.get(f"{claims}/feed", params={"limit": 1000}, headers=admin)
            [claim_verified] = [
                e for e in claims_feed.json()["items"] if e["type"] == "claim.verified"
            ]
            assert _trace_of(claim_verified) == VERIFIED_TRACE
            deadline = time.monotonic() + 15
            while True:
                page = (await ledger.get("/feed", headers=admin)).json()["items"]
                booked = [e for e in page if e["type"] == "ledger.transaction_posted"]
                if booked:
                    break
                assert time.monotonic() < deadline, "the ledger booked nothing"
                await asyncio.sleep(0.05)
    assert [_trace_of(e) for e in booked] == [VERIFIED_TRACE]  # the booking, in the same trace
    finished = spans.get_finished_spans()
    in_trace = {s.name for s in finished if f"{s.context.trace_id:032x}" == VERIFIED_TRACE}
    assert "apply ledger<-claims" in in_trace  # the ledger applied it inside that trace
    assert any(name.startswith("POST /v1/claims/") for name in in_trace), in_trace
    grouped = [s for s in finished if s.name == "intake group commit"]
    assert any(f"{s.context.trace_id:032x}" == POSTED_TRACE for s in grouped)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"traces_exporter": "jaeger"}, "traces_exporter"),
        ({"traces_exporter": "otlp"}, None),  # no endpoint
        ({"traces_exporter": "otlp", "otlp_endpoint": "not a url"}, "otlp_endpoint"),
    ],
)
def test_exporter_settings_are_checked_at_start(
    settings: dict[str, str], field: str | None
) -> None:
    with pytest.raises(ValidationError) as refused:
        CommonSettings(**settings)  # type: ignore[arg-type]
    problem = refused.value.errors()[0]
    if field is None:
        assert "OUTCOMES_OTLP_ENDPOINT" in problem["msg"]
    else:
        assert problem["loc"] == (field,)


def test_a_digest_does_not_chain_the_trace() -> None:
    entry = FeedEntry(
        position=1, type="contract.registered", schema_version=1, stream_id="s",
        stream_version=1, recorded_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC), data={"a": 1},
    )  # fmt: skip
    traced = entry.model_copy(update={"traceparent": f"00-{POSTED_TRACE}-00f067aa0ba902b7-01"})
    assert entry_text(traced) == entry_text(entry)


def test_an_instrumented_engine_traces_each_statement(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    """What a service does to its read models' engine when traces are exported."""
    engine = create_engine(f"sqlite:///{tmp_path / 'views.sqlite'}")
    try:
        instrument_engine(engine)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 42"))
    finally:
        engine.dispose()
    statements = [s.attributes.get("db.statement") for s in spans.get_finished_spans()]
    assert "SELECT 42" in statements


@pytest.mark.parametrize(
    "given",
    [
        "",
        "garbage",
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",  # the all-zero trace id is invalid
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "\x00" * 55,
    ],
)
def test_a_malformed_traceparent_starts_a_new_trace(given: str) -> None:
    configure_tracing("outcomes-test", "none", None)
    with continued("HTTP", [given]):
        span_context = get_current_span().get_span_context()
    assert span_context.is_valid and f"{span_context.trace_id:032x}" != POSTED_TRACE


def test_a_wellformed_traceparent_is_continued(spans: InMemorySpanExporter) -> None:
    with continued("HTTP", [_header(POSTED_TRACE)["traceparent"]]):
        written = current_traceparent()
    assert _trace_of({"traceparent": written}) == POSTED_TRACE
    assert written is not None and _span_context_of(written) is not None  # read back as written


def test_an_unrecorded_span_is_not_stored() -> None:
    configure_tracing("outcomes-test", "none", None)
    with continued("HTTP", [_header(POSTED_TRACE)["traceparent"]]):
        assert get_current_span().get_span_context().trace_id == int(POSTED_TRACE, 16)
        assert current_traceparent() is None
