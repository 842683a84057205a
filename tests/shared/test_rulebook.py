"""Rule-book validation: every problem listed, with the field at fault."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from shared.rules.model import RuleBookInvalid, parse_rulebook
from tests.conftest import IPS_RULEBOOK


def ips() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(IPS_RULEBOOK.read_text())
    return copy.deepcopy(document)


def problems_of(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(RuleBookInvalid) as caught:
        parse_rulebook(document)
    return {p.field: p.message for p in caught.value.problems}


def test_the_ips_example_is_valid() -> None:
    book = parse_rulebook(ips())
    assert book.contract_id == "ips-employment"
    assert [o.id for o in book.outcomes] == ["engagement", "job_start", "sustainment_13_weeks"]


def test_unknown_fields_are_refused_by_name() -> None:
    document = ips()
    document["outcomes"][0]["pryce"] = "1.00"
    assert "outcomes.0.pryce" in problems_of(document)


def test_every_semantic_problem_is_listed_at_once() -> None:
    document = ips()
    document["outcomes"][0]["trigger"] = "enrolment"
    document["outcomes"][1]["requires"][0]["event"] = "intake"
    sustainment = document["outcomes"][2]
    sustainment["requires"][0]["max_days_before"] = 30
    sustainment["price_tiers"][0]["when"]["attribute"] = "job.hours"
    sustainment["price"] = "12.345"
    problems = problems_of(document)
    assert problems == {
        "outcomes.0.trigger": "undefined event type 'enrolment'",
        "outcomes.1.requires.0.event": "undefined event type 'intake'",
        "outcomes.2.requires.0": "max_days_before is less than min_days_before",
        "outcomes.2.price_tiers.0.when.attribute": (
            "event type 'job_start' has no attribute 'hours'"
        ),
        "outcomes.2.price": "12.345 has more than 2 decimal places for GBP",
    }


def test_a_condition_value_must_fit_its_attribute_type() -> None:
    document = ips()
    document["outcomes"][2]["price_tiers"][0]["when"]["value"] = "sixteen"
    assert problems_of(document) == {
        "outcomes.2.price_tiers.0.when.value": "expected an integer",
    }


def test_an_unsupported_currency_is_refused() -> None:
    document = ips()
    document["currency"] = "XTS"
    assert "currency" in problems_of(document)


def test_duplicate_outcome_and_provider_ids_are_refused() -> None:
    document = ips()
    document["outcomes"].append(copy.deepcopy(document["outcomes"][0]))
    document["providers"].append(copy.deepcopy(document["providers"][0]))
    problems = problems_of(document)
    assert problems["outcomes.3.id"] == "duplicate outcome id 'engagement'"
    assert problems["providers"] == "provider ids must be unique"


def test_an_enum_attribute_needs_values() -> None:
    document = ips()
    del document["event_types"]["referral"]["attributes"]["referral_source"]["values"]
    assert problems_of(document) == {
        "event_types.referral.attributes.referral_source.values": (
            "an enum attribute needs its values"
        )
    }


def with_outcome(document: dict[str, Any], outcome: dict[str, Any]) -> dict[str, Any]:
    document["outcomes"].append(outcome)
    return document


def test_a_tier_that_contradicts_itself_can_never_match() -> None:
    document = ips()
    document["outcomes"][2]["price_tiers"].append(
        {
            "id": "impossible",
            "when": {
                "all": [
                    {"attribute": "job.hours_per_week", "op": ">=", "value": 30},
                    {"attribute": "job.hours_per_week", "op": "<", "value": 20},
                ]
            },
            "price": "9.00",
        }
    )
    assert problems_of(document) == {
        "outcomes.2.price_tiers.1.when": (
            "can never match: its conditions contradict each other or the attribute's range"
        )
    }


def test_a_tier_outside_the_attributes_range_can_never_match() -> None:
    document = ips()
    document["outcomes"][2]["price_tiers"][0]["when"]["value"] = 81  # hours are at most 80
    assert "outcomes.2.price_tiers.0.when" in problems_of(document)


def test_a_tier_shadowed_by_an_identical_earlier_tier_can_never_match() -> None:
    document = ips()
    tiers = document["outcomes"][2]["price_tiers"]
    tiers.append({**copy.deepcopy(tiers[0]), "id": "again", "price": "1.00"})
    assert problems_of(document) == {
        "outcomes.2.price_tiers.1.when": "can never match: tier 'full_time' has the same condition"
    }


def test_enum_conditions_that_exclude_every_value_can_never_hold() -> None:
    document = ips()
    document["outcomes"][0]["conditions"] = [
        {
            "all": [
                {"attribute": "referral.referral_source", "op": "in", "value": ["self"]},
                {"attribute": "referral.referral_source", "op": "!=", "value": "self"},
            ]
        }
    ]
    assert problems_of(document) == {"outcomes.0.conditions.0": "this condition can never hold"}


def test_a_multiplier_table_must_cover_every_enum_value() -> None:
    document = ips()
    document["multiplier_tables"] = {"source": {"values": {"self": "1.00", "primary_care": "1.2"}}}
    document["outcomes"][0]["multiplier"] = {
        "table": "source",
        "attribute": "referral.referral_source",
    }
    document["event_types"]["referral"]["attributes"]["referral_source"]["required"] = True
    assert problems_of(document) == {
        "multiplier_tables.source.values": (
            "no multiplier for secondary_care (allowed by referral.referral_source) and no default"
        )
    }


def test_an_optional_multiplier_attribute_needs_a_default() -> None:
    document = ips()
    document["multiplier_tables"] = {
        "source": {"values": {"self": "1", "primary_care": "1", "secondary_care": "1"}}
    }
    document["outcomes"][0]["multiplier"] = {
        "table": "source",
        "attribute": "referral.referral_source",
    }
    assert problems_of(document) == {
        "outcomes.0.multiplier.attribute": "the attribute is optional, so the table needs a default"
    }


def test_prices_bases_caps_targets_and_kpis_are_checked() -> None:
    document = ips()
    del document["outcomes"][0]["price"]
    document["outcomes"][0]["base"] = "missing_base"
    document["caps"][1]["outcome"] = "no_such_outcome"
    document["targets"][0]["values"] = {"2026-03": 5}
    document["kpis"][0]["lower_level"] = "90"
    document["kpis"][0]["end"] = "first_contact"
    document["outcomes"][1]["evidence"] = ["selfie"]
    problems = problems_of(document)
    assert problems == {
        "outcomes.0.base": "undefined base amount 'missing_base'",
        "caps.1.outcome": "an outcome cap names a defined outcome",
        "targets.0.values.2026-03": "not a quarter label",
        "kpis.0.lower_level": "the lower level cannot exceed the minimum level",
        "kpis.0.end": "undefined event type 'first_contact'",
        "outcomes.1.evidence.0": "undefined evidence type 'selfie'",
    }


def test_windows_and_day_counts_name_known_events() -> None:
    document = with_outcome(
        ips(),
        {
            "id": "quick_job",
            "trigger": "job_start",
            "requires": [{"event": "referral"}],
            "conditions": [{"days_between": {"start": "enrolment", "op": "<=", "value": 30}}],
            "price": "10.00",
        },
    )
    assert problems_of(document) == {
        "outcomes.3.conditions.0.days_between.start": (
            "unknown name 'enrolment'; known: referral, trigger"
        )
    }


def test_percentage_tiers_without_a_base_are_refused() -> None:
    document = with_outcome(
        ips(),
        {
            "id": "share",
            "trigger": "enrollment",
            "price_tiers": [
                {
                    "id": "half",
                    "when": {"attribute": "trigger.x", "op": "==", "value": 1},
                    "percentage": "50",
                }
            ],
            "otherwise": "nothing",
        },
    )
    problems = problems_of(document)
    assert problems["outcomes.3.price"] == "percentages need a price or a base to apply to"
    assert problems["outcomes.3.price_tiers.0.when.attribute"] == (
        "event type 'enrollment' has no attribute 'x'"
    )


def test_a_tier_sets_exactly_one_of_price_or_percentage() -> None:
    document = ips()
    document["outcomes"][2]["price_tiers"][0]["percentage"] = "50"
    assert "outcomes.2.price_tiers.0" in problems_of(document)


def test_a_personal_attribute_cannot_decide_a_payment() -> None:
    document = ips()
    document["event_types"]["job_start"]["attributes"]["hours_per_week"]["personal"] = True
    problems = problems_of(document)
    [(field, message)] = [(f, m) for f, m in problems.items() if "personal" in m]
    assert field.startswith("outcomes.") and field.endswith(".attribute")
    assert "job_start.hours_per_week is personal, so it cannot decide a payment" in message


def test_a_personal_attribute_cannot_be_a_report_flag() -> None:
    document = ips()
    flagged = next(
        (event_type, name)
        for event_type, spec in document["event_types"].items()
        for name, attribute in (spec or {}).get("attributes", {}).items()
        if attribute.get("flag")
    )
    event_type, name = flagged
    document["event_types"][event_type]["attributes"][name]["personal"] = True
    field = f"event_types.{event_type}.attributes.{name}.flag"
    assert problems_of(document) == {
        field: "a personal attribute cannot be a report flag: reports never read it"
    }
