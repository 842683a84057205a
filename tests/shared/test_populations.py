"""Population outcomes, pure: members' facts from their own histories, a group's claim from its
members' facts, on the kangaroo-care example (hand-computed figures in the comments)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.rules.engine import RecordedEvent, RuleBookVersion, derive
from shared.rules.model import RuleBookInvalid, parse_rulebook
from shared.rules.populations import Figures, MemberFact, closes_on, derive_population, member_fact

EXAMPLE = Path(__file__).parents[2] / "examples" / "contracts" / "kangaroo-care-dib.yaml"
DOCUMENT: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
VERSIONS = [RuleBookVersion(1, parse_rulebook(DOCUMENT))]
COUNT = "metric_a_quarterly_enrolment"
SHARE = "metric_c_quarterly_weight_gain"
D = dt.date


def baby(
    ref: str, hospital: str | None, enrolled: dt.date, gain: str | None = None
) -> list[RecordedEvent]:
    enrolment: dict[str, Any] = {"birth_weight_grams": 1500}
    if hospital is not None:
        enrolment["hospital"] = hospital
    events = [RecordedEvent(f"{ref}-e", "baby_enrolled", enrolled, enrolment)]
    if gain is not None:
        assessed = {"appropriate_gain": True, "gain_g_per_kg_day": gain}
        events.append(
            RecordedEvent(f"{ref}-w", "weight_assessed", enrolled + dt.timedelta(days=40), assessed)
        )
    return events


def test_a_babys_fact_is_its_hospital_quarter_and_whether_it_gained_enough() -> None:
    assert member_fact(VERSIONS, SHARE, baby("b1", "h1", D(2025, 5, 3), "15")) == MemberFact(
        "h1", "2025-Q2", True, None
    )
    assert member_fact(VERSIONS, SHARE, baby("b2", "h1", D(2025, 7, 1), "14.99")) == MemberFact(
        "h1", "2025-Q3", False, None
    )
    assert member_fact(VERSIONS, SHARE, baby("b3", "h1", D(2025, 7, 1))) == MemberFact(
        "h1", "2025-Q3", False, None
    )  # not assessed yet: not met
    assert member_fact(VERSIONS, SHARE, baby("b4", None, D(2025, 7, 1), "20")) is None  # no group
    weighed_only = baby("b5", "h1", D(2025, 7, 1), "20")[1:]
    assert member_fact(VERSIONS, SHARE, weighed_only) is None  # never enrolled: not a member


def facts(met: int, not_met: int) -> list[MemberFact]:
    return [MemberFact("h1", "2025-Q2", True, None)] * met + [
        MemberFact("h1", "2025-Q2", False, None)
    ] * not_met


def claim_for(outcome: str, met: int, not_met: int) -> tuple[int, str | None] | None:
    derived = derive_population(VERSIONS, outcome, "h1", "2025-Q2", Figures.of(facts(met, not_met)))
    return None if derived is None else (derived.amount_minor, derived.tier)


def test_a_hospital_quarter_with_at_least_40_babies_pays_10000() -> None:
    assert claim_for(COUNT, 20, 20) == (1_000_000, None)
    assert claim_for(COUNT, 0, 39) is None


@pytest.mark.parametrize(
    ("met", "not_met", "expected"),
    [
        (40, 10, (480_000, "at_least_80_percent")),  # 80 %: 80.00 x 1.2 x 50 babies = 4,800.00
        (39, 11, (400_000, "at_least_60_percent")),  # 78 %: 80.00 x 1.0 x 50 = 4,000.00
        (167, 42, (1_672_000, "at_least_60_percent")),  # 79.904 % is below 80: 80.00 x 209
        (30, 20, (400_000, "at_least_60_percent")),  # 60 % exactly
        (29, 21, None),  # 58 %: nothing
    ],
)
def test_the_share_sets_the_tier_exactly(
    met: int, not_met: int, expected: tuple[int, str | None] | None
) -> None:
    assert claim_for(SHARE, met, not_met) == expected


def test_two_thirds_is_compared_exactly_not_rounded() -> None:
    document = {**DOCUMENT}
    outcome = next(o for o in document["outcomes"] if o["id"] == SHARE)
    exact = {**outcome, "price_tiers": [{**outcome["price_tiers"][0], "when": {
        "attribute": "population.share", "op": ">=", "value": "66.666667"}}]}  # fmt: skip
    document["outcomes"] = [o if o["id"] != SHARE else exact for o in document["outcomes"]]
    versions = [RuleBookVersion(1, parse_rulebook(document))]
    two_thirds = Figures.of(facts(2, 1))  # 66.6666...% is below 66.666667 %
    assert derive_population(versions, SHARE, "h1", "2025-Q2", two_thirds) is None


def test_the_trace_shows_the_figures_and_the_claim_is_dated_at_the_period_end() -> None:
    derived = derive_population(VERSIONS, SHARE, "h1", "2025-Q2", Figures.of(facts(2, 1)))
    assert derived is not None
    assert derived.occurred_on == D(2025, 6, 30)
    assert derived.claim_key == f"{SHARE}@2025-Q2"
    assert derived.trace["population"] == {
        "group": "h1",
        "period": "2025-Q2",
        "members": 3,
        "met": 2,
        "share": "66.6667",
        "average": None,
    }
    spec = VERSIONS[0].rulebook.outcomes[-1].population
    assert spec is not None
    assert closes_on(spec, "2025-Q2", 1) == D(2025, 7, 30)


def test_population_outcomes_never_come_out_of_a_single_history() -> None:
    claims = derive(VERSIONS, baby("b1", "h1", D(2025, 5, 3), "20")).claims
    assert {c.outcome_id for c in claims} == set()


def test_population_outcomes_used_wrongly_are_refused() -> None:
    document = {**DOCUMENT}
    document["outcomes"] = [
        {"id": "neither", "price": "1.00"},
        {
            "id": "bad_group",
            "population": {
                "group": "baby_enrolled.birth_weight_grams",
                "period": "quarter",
                "member": "hospital_trained",
                "met": [{"attribute": "nothing.at_all", "op": "==", "value": 1}],
                "attribute": "baby_enrolled.hospital",
            },
            "requires": [{"event": "baby_enrolled"}],
            "per_period": "month",
            "conditions": [{"attribute": "population.colour", "op": "==", "value": "red"}],
            "price": "1.00",
        },
        {
            "id": "both",
            "trigger": "baby_enrolled",
            "population": {"group": "hospital_trained.staff_trained", "period": "month"},
            "price": "1.00",
        },
    ]
    with pytest.raises(RuleBookInvalid) as caught:
        parse_rulebook(document)
    assert [p.field for p in caught.value.problems] == [
        "outcomes.0.trigger",
        "outcomes.1.population.group",
        "outcomes.1.population.member",
        "outcomes.1.population.met.0.attribute",
        "outcomes.1.population.attribute",
        "outcomes.1.requires",
        "outcomes.1.per_period",
        "outcomes.1.conditions.0.attribute",
        "outcomes.2.trigger",
    ]
    assert "is personal" in caught.value.problems[1].message


def test_a_population_may_be_all_of_a_providers_participants() -> None:
    document = {**DOCUMENT}
    share = next(o for o in document["outcomes"] if o["id"] == SHARE)
    provider_wide = {
        **share,
        "id": "provider_quarter",
        "population": {**share["population"], "group": "provider", "member": "baby_enrolled"},
    }
    document["outcomes"] = [*document["outcomes"], provider_wide]
    versions = [RuleBookVersion(1, parse_rulebook(document))]
    # babies of two hospitals, one provider: one population
    facts = [
        member_fact(versions, "provider_quarter", baby(f"b{i}", hospital, D(2025, 5, 3), gain))
        for i, (hospital, gain) in enumerate([("h1", "16"), ("h2", "20"), ("h2", "9")])
    ]
    assert {(f.group, f.period) for f in facts if f is not None} == {("provider", "2025-Q2")}
    claim = derive_population(versions, "provider_quarter", "provider", "2025-Q2", Figures.of(
        f for f in facts if f is not None))  # fmt: skip
    assert claim is not None
    # 2 of 3 gained enough: 66.67 % -> x 1.0: 80.00 x 3 babies = 240.00
    assert claim.amount_minor == 24_000
    without_member = {**provider_wide, "population": {**provider_wide["population"]}}
    del without_member["population"]["member"]
    document["outcomes"] = [*DOCUMENT["outcomes"], without_member]
    with pytest.raises(RuleBookInvalid) as caught:
        parse_rulebook(document)
    assert [p.field for p in caught.value.problems] == [
        f"outcomes.{len(DOCUMENT['outcomes'])}.population.member"
    ]


def test_a_population_may_be_a_cohort() -> None:
    """Babies grouped by the month they were enrolled (the cohort stage: the first participant
    event type), whichever hospital they were at."""
    document = {**DOCUMENT}
    share = next(o for o in document["outcomes"] if o["id"] == SHARE)
    by_cohort = {
        **share,
        "id": "cohort_quarter",
        "population": {**share["population"], "group": "cohort", "member": "baby_enrolled"},
    }
    document["outcomes"] = [*document["outcomes"], by_cohort]
    versions = [RuleBookVersion(1, parse_rulebook(document))]
    facts = [
        member_fact(versions, "cohort_quarter", baby("b1", "h1", D(2025, 5, 3), "16")),
        member_fact(versions, "cohort_quarter", baby("b2", "h2", D(2025, 5, 28), "9")),
        member_fact(versions, "cohort_quarter", baby("b3", "h1", D(2025, 6, 2), "20")),
    ]
    assert [(f.group, f.period, f.met) for f in facts if f is not None] == [
        ("2025-05", "2025-Q2", True),
        ("2025-05", "2025-Q2", False),
        ("2025-06", "2025-Q2", True),
    ]
