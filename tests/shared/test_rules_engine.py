"""The rule engine on the IPS example: exact claims and amounts from hand-written histories."""

from __future__ import annotations

import datetime as dt

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.rules.engine import RecordedEvent, RuleBookVersion, derive_claims
from shared.rules.model import parse_rulebook
from tests.conftest import IPS_RULEBOOK

BOOK = parse_rulebook(yaml.safe_load(IPS_RULEBOOK.read_text()))
VERSIONS = [RuleBookVersion(1, BOOK)]
D = dt.date


def story(hours_per_week: int = 20, sustained_days_after_start: int = 98) -> list[RecordedEvent]:
    start = D(2026, 4, 1)
    return [
        RecordedEvent("ev-1", "referral", D(2026, 3, 2)),
        RecordedEvent("ev-2", "enrollment", D(2026, 3, 9)),
        RecordedEvent("ev-3", "job_start", start, {"hours_per_week": hours_per_week}),
        RecordedEvent(
            "ev-4", "job_sustained", start + dt.timedelta(days=sustained_days_after_start)
        ),
    ]


def summary(history: list[RecordedEvent]) -> list[tuple[str, int, str | None, tuple[str, ...]]]:
    return [
        (c.outcome_id, c.amount_minor, c.tier, c.source_event_ids)
        for c in derive_claims(VERSIONS, history)
    ]


def test_full_time_story_derives_three_claims_with_the_full_time_tier() -> None:
    assert summary(story()) == [
        ("engagement", 50_000, None, ("ev-1", "ev-2")),
        ("job_start", 150_000, None, ("ev-2", "ev-3")),
        ("sustainment_13_weeks", 250_000, "full_time", ("ev-3", "ev-4")),
    ]


def test_part_time_job_pays_the_base_sustainment_price() -> None:
    assert summary(story(hours_per_week=15))[2] == (
        "sustainment_13_weeks",
        120_000,
        None,
        ("ev-3", "ev-4"),
    )


def test_sixteen_hours_is_the_full_time_edge() -> None:
    assert summary(story(hours_per_week=16))[2][1] == 250_000


def test_sustainment_needs_91_days_after_the_job_start() -> None:
    assert [c[0] for c in summary(story(sustained_days_after_start=90))] == [
        "engagement",
        "job_start",
    ]
    assert summary(story(sustained_days_after_start=91))[2][0] == "sustainment_13_weeks"


def test_job_start_without_enrollment_derives_nothing() -> None:
    history = [RecordedEvent("j", "job_start", D(2026, 4, 1), {"hours_per_week": 30})]
    assert derive_claims(VERSIONS, history) == []


def test_enrollment_after_the_job_start_does_not_qualify_it() -> None:
    history = [
        RecordedEvent("j", "job_start", D(2026, 4, 1), {"hours_per_week": 30}),
        RecordedEvent("e", "enrollment", D(2026, 4, 2)),
    ]
    assert derive_claims(VERSIONS, history) == []


def test_outcomes_are_paid_once_per_participant_on_the_earliest_trigger() -> None:
    history = [
        *story(),
        RecordedEvent("ev-5", "job_start", D(2026, 9, 1), {"hours_per_week": 35}),
    ]
    job_starts = [c for c in derive_claims(VERSIONS, history) if c.outcome_id == "job_start"]
    assert [c.trigger_event_id for c in job_starts] == ["ev-3"]


def test_events_before_the_contract_takes_effect_derive_nothing() -> None:
    history = [
        RecordedEvent("r", "referral", D(2024, 12, 1)),
        RecordedEvent("e", "enrollment", D(2024, 12, 5)),
    ]
    assert derive_claims(VERSIONS, history) == []


@settings(max_examples=200, deadline=None)
@given(
    order=st.permutations(story()),
    duplicates=st.lists(st.sampled_from(story()), max_size=4),
)
def test_arrival_order_and_duplicate_delivery_never_change_the_claims(
    order: list[RecordedEvent], duplicates: list[RecordedEvent]
) -> None:
    expected = derive_claims(VERSIONS, story())
    assert derive_claims(VERSIONS, [*order, *duplicates]) == expected
