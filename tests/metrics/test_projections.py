"""The funnel read model, built from the claims feed on both stores."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from services.claims.application import ClaimsApplication
from services.metrics.application import funnel
from services.metrics.errors import ContractNotTracked
from services.metrics.readmodels.performance import PerformanceProjector
from shared.sqlviews import ConcurrentFollowerError, SqlSink
from tests.claims.helpers import OTHER_PROVIDER, PROVIDER, story_events
from tests.stores import migrated_engine

MIGRATIONS = Path(__file__).parents[2] / "services" / "metrics" / "migrations"


@pytest.fixture
def engine(urls: dict[str, str]) -> Iterator[Engine]:
    with migrated_engine(urls["metrics"], "metrics") as engine:
        yield engine


def sink(engine: Engine) -> SqlSink:
    return SqlSink(engine, "claims", PerformanceProjector())


def counts(engine: Engine, provider_id: str | None = None) -> dict[str, tuple[int, int]]:
    report = funnel(engine, "ips-employment", provider_id)
    return {stage: (c.participants, c.events) for stage, c in report.overall.items()}


def test_the_funnel_counts_participants_and_events_per_stage(
    claims: ClaimsApplication, engine: Engine
) -> None:
    claims.intake.record_events("ips-employment", PROVIDER, story_events("a", "a"), "provider:x")
    claims.intake.record_events(
        "ips-employment", OTHER_PROVIDER, story_events("b", "b")[:2], "provider:y"
    )
    sink(engine).apply(claims.read_feed(0, 1000))
    assert counts(engine) == {
        "referral": (2, 2),
        "enrollment": (2, 2),
        "job_start": (1, 1),
        "job_sustained": (1, 1),
    }
    assert counts(engine, OTHER_PROVIDER)["job_start"] == (0, 0)
    report = funnel(engine, "ips-employment")
    assert list(report.by_month) == ["2026-03", "2026-04", "2026-07"]
    assert report.by_month["2026-03"]["referral"].participants == 2


def test_a_late_earlier_event_moves_the_participant_to_its_month(
    claims: ClaimsApplication, engine: Engine
) -> None:
    claims.intake.record_events(
        "ips-employment", PROVIDER, story_events("a", "a")[:1], "provider:x"
    )
    earlier = dataclasses.replace(
        story_events("a", "a")[0], event_id="a-0", occurred_on=dt.date(2026, 2, 20)
    )
    claims.intake.record_events("ips-employment", PROVIDER, [earlier], "provider:x")
    sink(engine).apply(claims.read_feed(0, 1000))
    report = funnel(engine, "ips-employment")
    assert report.by_month["2026-02"]["referral"].participants == 1
    assert report.by_month["2026-03"]["referral"].participants == 0
    assert report.overall["referral"].participants == 1
    assert report.overall["referral"].events == 2


def test_a_second_follower_cannot_apply_a_page_again(
    claims: ClaimsApplication, engine: Engine
) -> None:
    claims.intake.record_events("ips-employment", PROVIDER, story_events("a", "a"), "provider:x")
    page = claims.read_feed(0, 1000)
    sink(engine).apply(page)
    with pytest.raises(ConcurrentFollowerError):
        sink(engine).apply(page)
    assert counts(engine)["referral"] == (1, 1)
    assert sink(engine).position() == page[-1].position


def test_an_unknown_contract_is_not_found(engine: Engine) -> None:
    with pytest.raises(ContractNotTracked):
        funnel(engine, "nope")


def test_the_funnel_follows_corrections_and_retractions(
    claims: ClaimsApplication, engine: Engine
) -> None:
    """The first funnel counted recorded events only; read from the cube it counts the events
    as corrected, and no longer the retracted ones."""
    events = story_events("a", "a")
    claims.intake.record_events("ips-employment", PROVIDER, events, "provider:x")
    moved = dataclasses.replace(events[0], occurred_on=dt.date(2026, 2, 27))
    claims.corrections.correct_event("ips-employment", PROVIDER, moved, "provider:x", "date")
    claims.corrections.retract_event(
        "ips-employment", PROVIDER, events[3].event_id, "provider:x", "not sustained"
    )
    sink(engine).apply(claims.read_feed(0, 1000))
    report = funnel(engine, "ips-employment")
    assert counts(engine)["referral"] == (1, 1)
    assert counts(engine)["job_sustained"] == (0, 0)
    assert report.by_month["2026-02"]["referral"].events == 1
    assert "2026-03" not in report.by_month or not report.by_month["2026-03"]["referral"].events
