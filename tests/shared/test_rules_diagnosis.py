"""Why no claim: for each outcome, derived or the first thing that stopped it, with figures, in
the rule book's own names; and the answer agrees with the engine on what is derived."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.rules.diagnosis import DERIVED, NOT_DERIVED, describe, diagnose
from shared.rules.engine import RecordedEvent, RuleBookVersion, derive_claims
from shared.rules.model import parse_rulebook
from tests.shared.test_rules_engine import VERSIONS, story

D = dt.date
EXAMPLES = Path(__file__).parents[2] / "examples" / "contracts"


def reasons(versions: list[RuleBookVersion], history: list[RecordedEvent]) -> dict[str, str]:
    return {d.outcome_id: d.reason or DERIVED for d in diagnose(versions, history)}


def test_a_whole_story_derives_every_outcome_with_its_trigger() -> None:
    found = diagnose(VERSIONS, story())
    assert [(d.outcome_id, d.status, d.trigger_event_ids) for d in found] == [
        ("engagement", DERIVED, ["ev-2"]),
        ("job_start", DERIVED, ["ev-3"]),
        ("sustainment_13_weeks", DERIVED, ["ev-4"]),
    ]
    assert found[2].name == "Job sustained for 13 weeks"


def test_a_sustainment_too_soon_names_the_window_and_the_days_found() -> None:
    found = reasons(VERSIONS, story(sustained_days_after_start=59))
    assert found["sustainment_13_weeks"] == (
        "needs a job_start at least 91 days before the job_sustained of 2026-05-30; "
        "the job_start events found are 59 days before it"
    )
    assert found["engagement"] == found["job_start"] == DERIVED


def test_missing_events_are_named() -> None:
    history = story()[:1]
    assert reasons(VERSIONS, history) == {
        "engagement": "no enrollment event",
        "job_start": "no job_start event",
        "sustainment_13_weeks": "no job_sustained event",
    }
    no_referral = story()[1:2]
    assert reasons(VERSIONS, no_referral)["engagement"] == (
        "needs a referral at least 0 days before the enrollment of 2026-03-09; there is none"
    )


def test_eligibility_names_the_condition_and_the_value_seen() -> None:
    book = parse_rulebook(yaml.safe_load((EXAMPLES / "homelessness-prevention.yaml").read_text()))
    versions = [RuleBookVersion(1, book)]
    history = [
        RecordedEvent("r", "referral", D(2025, 5, 1), {"household": "single", "age": 17}),
        RecordedEvent("p", "housing_plan_completed", D(2025, 6, 1)),
    ]
    assert reasons(versions, history)["plan_completed"] == (
        "eligibility: referral.age is 17; needs >= 18"
    )
    history[0] = RecordedEvent("r", "referral", D(2025, 5, 1), {"household": "family", "age": 30})
    assert reasons(versions, history)["plan_completed"] == (
        "eligibility: referral.household is family; needs == single"
    )


def test_a_failing_condition_and_an_unmet_tier_name_their_figures() -> None:
    document = yaml.safe_load((EXAMPLES / "ips-employment.yaml").read_text())
    sustainment = document["outcomes"][2]
    sustainment["otherwise"] = "nothing"  # only full-time jobs are paid
    document["outcomes"][1]["conditions"] = [
        {"days_between": {"start": "enrollment", "op": "<=", "value": 14}}
    ]
    versions = [RuleBookVersion(1, parse_rulebook(document))]
    found = reasons(versions, story(hours_per_week=10))
    assert found["job_start"] == "condition 1: job_start 23 days after enrollment; needs <= 14"
    assert found["sustainment_13_weeks"] == (
        "no price tier applies, and the outcome pays nothing otherwise"
    )


def test_one_event_is_judged_on_its_own() -> None:
    history = [*story(), RecordedEvent("ev-5", "job_start", D(2026, 9, 1), {"hours_per_week": 30})]
    found = diagnose(VERSIONS, history, "ev-5")
    assert [(d.outcome_id, d.status, d.reason) for d in found] == [
        ("job_start", NOT_DERIVED, "the limit of 1 per participant is reached")
    ]
    assert diagnose(VERSIONS, history, "ev-3")[0].status == DERIVED
    assert [d.outcome_id for d in diagnose(VERSIONS, history, "ev-1")] == []


def test_after_the_contracts_end_and_before_it_began() -> None:
    late = story()
    late[3] = RecordedEvent("ev-4", "job_sustained", D(2029, 1, 5))
    assert reasons(VERSIONS, late)["sustainment_13_weeks"] == (
        "job_sustained on 2029-01-05 is after the contract's end (2028-12-31)"
    )
    early = [RecordedEvent("ev-1", "referral", D(2024, 1, 2)),
             RecordedEvent("ev-2", "enrollment", D(2024, 1, 9))]  # fmt: skip
    assert reasons(VERSIONS, early)["engagement"] == (
        "no version of the rule book was in effect on 2024-01-09"
    )


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=200), min_size=1, max_size=4),
    hours=st.integers(min_value=1, max_value=60),
    order=st.permutations([0, 1, 2, 3]),
)
def test_the_diagnosis_agrees_with_the_engine(
    gaps: list[int], hours: int, order: list[int]
) -> None:
    """Whatever the history, an outcome is ``derived`` exactly when the engine derives a claim
    for it, and every other outcome has a reason."""
    kinds = ["referral", "enrollment", "job_start", "job_sustained"]
    day = D(2026, 1, 1)
    history = []
    for index, gap in zip(order, gaps, strict=False):
        day += dt.timedelta(days=gap)
        attributes = {"hours_per_week": hours} if kinds[index] == "job_start" else {}
        history.append(RecordedEvent(f"ev-{index}", kinds[index], day, attributes))
    derived = {c.outcome_id for c in derive_claims(VERSIONS, history)}
    for found in diagnose(VERSIONS, history):
        assert (found.status == DERIVED) == (found.outcome_id in derived)
        assert (found.reason is None) == (found.status == DERIVED)


def test_describe_covers_every_kind_of_condition() -> None:
    """Counts, absences, cumulative days and any/not give their figures too."""
    document = yaml.safe_load((EXAMPLES / "ips-employment.yaml").read_text())
    book = parse_rulebook(document)
    from shared.rules.conditions import Context
    from shared.rules.model import Absent, AnyOf, Count, CumulativeDays, Not

    history = story()
    context = Context(book, {"trigger": history[3]}, history, history[3].occurred_on)
    count = Count.model_validate({"count": {"event": "job_start", "op": ">=", "value": 2}})
    assert describe(context, count) == "1 job_start events counted; needs >= 2"
    absent = Absent.model_validate({"absent": {"event": "job_start"}})
    assert describe(context, absent) == "1 job_start events where there must be none"
    spells = CumulativeDays.model_validate(
        {"cumulative_days": {"start": "job_start", "stop": "referral", "op": ">=", "value": 200}}
    )
    assert describe(context, spells) == (
        "98 days between job_start and referral in all; needs >= 200"
    )
    either = AnyOf.model_validate({"any": [count.model_dump(), absent.model_dump()]})
    assert describe(context, either).startswith("none of: 1 job_start events counted")
    negated = Not.model_validate({"not": {"absent": {"event": "meeting"}}})
    assert describe(context, negated).startswith("it must not be that:")


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_every_example_contract_can_be_diagnosed_with_no_events(name: str) -> None:
    book = parse_rulebook(yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text()))
    found = diagnose([RuleBookVersion(1, book)], [])
    assert [d.outcome_id for d in found] == [o.id for o in book.outcomes]
    assert all(d.status == NOT_DERIVED and d.reason for d in found)
