"""Deadlines: claims waiting past the contract's decision deadline, disputes past theirs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy.engine import Engine

from services.claims.application import ClaimsApplication
from services.claims.readmodels.claim_index import ClaimFilter, apply_entry, overdue_claims
from shared.sqlviews import SqlSink
from tests.claims.helpers import NOW, PROVIDER, claims_app, ips_rulebook, story_events
from tests.stores import migrated_engine

MIGRATIONS = Path(__file__).parents[2] / "services" / "claims" / "migrations"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(urls: dict[str, str], clock: Clock) -> Iterator[ClaimsApplication]:
    application = claims_app(urls["claims"], clock)
    application.contracts.register(ips_rulebook())
    yield application
    application.close()


@pytest.fixture
def engine(urls: dict[str, str]) -> Iterator[Engine]:
    with migrated_engine(urls["claims"], "claims") as engine:
        yield engine


def overdue(app: ClaimsApplication, engine: Engine, at: dt.datetime) -> list[tuple[str, str, int]]:
    sink = SqlSink(engine, "claims", apply_entry)
    entries = app.read_feed(sink.position(), 1000)
    if entries:
        sink.apply(entries)
    rows = overdue_claims(engine, ClaimFilter(contract_id="ips-employment"), at, 100)
    return sorted((row["outcome_id"], row["status"], row["days_overdue"]) for row in rows)


def test_submitted_claims_and_disputes_fall_overdue_after_their_deadlines(
    app: ClaimsApplication, engine: Engine, clock: Clock
) -> None:
    results = app.intake.record_events(
        "ips-employment", PROVIDER, story_events(), f"provider:{PROVIDER}"
    )
    engagement, job_start, _ = (UUID(c) for r in results for c in r.claim_ids)
    clock.now = NOW + dt.timedelta(days=5)
    app.verification.reject(job_start, "verifier:v", "form_defect", "unsigned")
    app.verification.dispute(job_start, "provider:p", "signed copy")
    app.verification.verify(engagement, "verifier:v", "")
    # submitted at NOW, due 30 days on; disputed at NOW + 5 days, due 30 days after that
    assert overdue(app, engine, NOW + dt.timedelta(days=29)) == []
    assert overdue(app, engine, NOW + dt.timedelta(days=31)) == [
        ("sustainment_13_weeks", "submitted", 1),
    ]
    assert overdue(app, engine, NOW + dt.timedelta(days=37)) == [
        ("job_start", "disputed", 2),
        ("sustainment_13_weeks", "submitted", 7),
    ]


def test_a_dispute_must_come_within_the_window(app: ClaimsApplication, clock: Clock) -> None:
    from services.claims.errors import DisputeRefused

    results = app.intake.record_events(
        "ips-employment", PROVIDER, story_events()[:2], f"provider:{PROVIDER}"
    )
    claim_id = UUID(results[1].claim_ids[0])
    app.verification.reject(claim_id, "verifier:v", "duplicate", "seen before")
    clock.now = NOW + dt.timedelta(days=15)
    with pytest.raises(DisputeRefused):
        app.verification.dispute(claim_id, "provider:p", "too late")
    assert app.reader.claim(claim_id).status.value == "rejected"
