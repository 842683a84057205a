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
