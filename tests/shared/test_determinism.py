"""Derivation is a pure function of (versions, history): arrival order and duplicates never matter.

Random histories are drawn over the richest example rule books (windows, cumulative spells,
per-period limits, at-most-N limits, percentage tiers, multipliers, absences in a calendar month
and before the trigger) and derived once in a
canonical order, then again from a random permutation with random duplicate deliveries.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.rules.engine import RecordedEvent, RuleBookVersion, derive, version_in_effect
from shared.rules.model import parse_rulebook

EXAMPLES = Path(__file__).parents[2] / "examples" / "contracts"


def versions_of(name: str) -> list[RuleBookVersion]:
    return [
        RuleBookVersion(1, parse_rulebook(yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())))
    ]


ATTRIBUTES: dict[str, dict[str, st.SearchStrategy[dict[str, Any]]]] = {
    "employment-pathways": {
        "referral": st.fixed_dictionaries(
            {"referral_route": st.sampled_from(["probation", "self"])}
        ),
        "job_offer": st.just({}),
        "job_placement": st.fixed_dictionaries(
            {"hourly_wage": st.sampled_from(["15.00", "18.50"])}
        ),
        "job_separation": st.just({}),
        "coaching_session": st.just({}),
        "retention_check": st.just({}),
        "progress_review": st.just({}),
        "arrest": st.just({}),
    },
    "teens-and-toddlers": {
        "stage_one_attendance": st.fixed_dictionaries(
            {"attendance_percent": st.sampled_from([50, 90])}
        ),
        "qualification_gained": st.fixed_dictionaries(
            {"level": st.sampled_from(["entry", "level_1", "level_2"])}
        ),
    },
    "ssi-application-assistance": {
        "referral": st.just({"program": "welfare_to_work"}),
        "application_submitted": st.fixed_dictionaries(
            {"kind": st.sampled_from(["initial", "reconsideration"])}
        ),
        "benefits_approved": st.just({}),
    },
    "basic-health-p4p": {
        "service_delivered": st.fixed_dictionaries(
            {
                "service_code": st.sampled_from(
                    ["antenatal_visit", "delivery", "tb_treatment_completed"]
                ),
                "province": st.sampled_from(["kabul", "badakhshan"]),
            }
        )
    },
}


@st.composite
def histories(draw: st.DrawFn, contract: str) -> list[RecordedEvent]:
    kinds = ATTRIBUTES[contract]
    count = draw(st.integers(min_value=0, max_value=14))
    events = []
    for index in range(count):
        kind = draw(st.sampled_from(sorted(kinds)))
        day = dt.date(2025, 7, 1) + dt.timedelta(days=draw(st.integers(min_value=0, max_value=240)))
        events.append(RecordedEvent(f"e{index:02d}", kind, day, draw(kinds[kind])))
    return events


def canonical(versions: list[RuleBookVersion], history: list[RecordedEvent]) -> Any:
    result = derive(versions, history)
    return [(c.claim_key, c.fingerprint(), dict(c.trace)) for c in result.claims], result.eligible


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    contract=st.sampled_from(sorted(ATTRIBUTES)),
    data=st.data(),
)
def test_any_permutation_with_duplicates_yields_identical_claims(
    contract: str, data: st.DataObject
) -> None:
    versions = versions_of(contract)
    history = data.draw(histories(contract))
    shuffled = data.draw(st.permutations(history))
    duplicates = data.draw(st.lists(st.sampled_from(history), max_size=5)) if history else []
    assert canonical(versions, [*shuffled, *duplicates]) == canonical(versions, history)


def test_a_claim_is_priced_under_the_version_in_effect_on_its_date() -> None:
    [first] = versions_of("ips-employment")
    document = first.rulebook.canonical()
    document["effective_from"] = "2026-06-01"
    document["outcomes"][1]["price"] = "1750.00"
    second = RuleBookVersion(2, parse_rulebook(document))
    versions = [first, second]
    history = [
        RecordedEvent("r", "referral", dt.date(2026, 5, 1)),
        RecordedEvent("e", "enrollment", dt.date(2026, 5, 20)),
        RecordedEvent("j", "job_start", dt.date(2026, 6, 1), {"hours_per_week": 20}),
    ]
    claims = {
        c.outcome_id: (c.contract_version, c.amount_minor) for c in derive(versions, history).claims
    }
    assert claims == {"engagement": (1, 50_000), "job_start": (2, 175_000)}
    assert version_in_effect(versions, dt.date(2026, 5, 31)) == first
    assert version_in_effect(versions, dt.date(2024, 12, 31)) is None


def test_the_trace_shows_how_an_amount_was_computed() -> None:
    versions = versions_of("basic-health-p4p")
    history = [
        RecordedEvent(
            "v",
            "service_delivered",
            dt.date(2025, 4, 1),
            {"service_code": "antenatal_visit", "province": "badakhshan"},
        )
    ]
    [claim] = derive(versions, history).claims
    assert dict(claim.trace) == {
        "contract_version": 1,
        "outcome_id": "antenatal_visit",
        "events": {"trigger": "v"},
        "tariff": "133.33",
        "tariff_source": "price",
        "percentage": "100",
        "multiplier": {"table": "province", "key": "badakhshan", "factor": "1.58"},
        "unrounded": "210.6614",
        "rounding": "half_even",
        "rounding_unit": "1",
        "tier": None,
        "amount_minor": 21_100,
    }


def test_an_ineligible_participant_derives_nothing_and_says_why() -> None:
    versions = versions_of("homelessness-prevention")
    history = [
        RecordedEvent("r", "referral", dt.date(2025, 5, 1), {"household": "couple", "age": 40}),
        RecordedEvent("p", "housing_plan_completed", dt.date(2025, 5, 10)),
    ]
    result = derive(versions, history)
    assert (result.claims, result.eligible, result.ineligible_reasons) == (
        [],
        False,
        ["condition 0 does not hold"],
    )
