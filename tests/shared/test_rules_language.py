"""Rule-book language v2: rounding units, counts and absences, and each subject's eligibility.

Every expected figure is computed by hand in the comment beside it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from shared.money import MoneyError, Rounding, to_minor
from shared.rules.engine import RecordedEvent, RuleBookVersion, derive
from shared.rules.model import RuleBookInvalid, parse_rulebook

D = dt.date


def book(**overrides: Any) -> dict[str, Any]:
    """A small participant contract: referral, meeting, contact, arrest, review."""
    document: dict[str, Any] = {
        "contract_id": "language-test",
        "name": "Language test",
        "currency": "GBP",
        "effective_from": "2025-01-01",
        "providers": [{"id": "provider-a", "name": "Provider A"}],
        "event_types": {
            "referral": {},
            "meeting": {
                "attributes": {
                    "mode": {"type": "enum", "values": ["face_to_face", "phone"], "required": True}
                }
            },
            "contact": {},
            "arrest": {},
            "review": {},
        },
        "outcomes": [],
    }
    document.update(overrides)
    return document


def claims_of(document: dict[str, Any], events: list[RecordedEvent]) -> list[tuple[str, str]]:
    versions = [RuleBookVersion(1, parse_rulebook(document))]
    return [(c.outcome_id, c.trigger_event_id) for c in derive(versions, events).claims]


def problems_of(document: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(RuleBookInvalid) as caught:
        parse_rulebook(document)
    return [(p.field, p.message) for p in caught.value.problems]


def outcome(**fields: Any) -> dict[str, Any]:
    return {"id": "paid", "trigger": "review", "price": "100.00", **fields}


# ---- rounding units ----------------------------------------------------------------------------
AFN_BOOK = {
    "contract_id": "afn-test",
    "name": "AFN",
    "currency": "AFN",
    "effective_from": "2025-01-01",
    "rounding_unit": "1",
    "providers": [{"id": "clinic", "name": "Clinic"}],
    "event_types": {"service": {"attributes": {"region": {"type": "enum", "values": ["remote"]}}}},
    "multiplier_tables": {"region": {"values": {"remote": "1.579"}, "default": "1"}},
    "outcomes": [
        {
            "id": "visit",
            "trigger": "service",
            "price": "198.00",
            "max_per_participant": None,
            "multiplier": {"table": "region", "attribute": "trigger.region"},
        }
    ],
}


def test_a_tariff_is_rounded_to_whole_afghanis_once_after_the_multiplier() -> None:
    versions = [RuleBookVersion(1, parse_rulebook(AFN_BOOK))]
    events = [RecordedEvent("s1", "service", D(2025, 2, 1), {"region": "remote"})]
    [claim] = derive(versions, events).claims
    # 198 x 1.579 = 312.642 -> 313 whole afghanis (half-up), i.e. 31,300 puls
    assert claim.amount_minor == 31_300
    assert Decimal(claim.trace["unrounded"]) == Decimal("312.642")
    assert (claim.trace["rounding"], claim.trace["rounding_unit"]) == ("half_up", "1")


def test_an_outcome_may_round_by_its_own_unit_and_rule() -> None:
    document = {
        **AFN_BOOK,
        "outcomes": [{**AFN_BOOK["outcomes"][0], "rounding_unit": "5", "rounding": "down"}],
    }
    versions = [RuleBookVersion(1, parse_rulebook(document))]
    events = [RecordedEvent("s1", "service", D(2025, 2, 1), {"region": "remote"})]
    [claim] = derive(versions, events).claims
    # 312.642 down to a multiple of 5 = 310
    assert claim.amount_minor == 31_000
    assert (claim.trace["rounding"], claim.trace["rounding_unit"]) == ("down", "5")


@pytest.mark.parametrize(
    ("amount", "unit", "rounding", "expected_minor"),
    [
        ("312.642", "1", Rounding.HALF_UP, 31_300),
        ("312.5", "1", Rounding.HALF_EVEN, 31_200),  # the even neighbour
        ("313.5", "1", Rounding.HALF_EVEN, 31_400),
        ("312.5", "5", Rounding.HALF_UP, 31_500),  # 62.5 fives -> 63 fives
        ("312.5", "5", Rounding.HALF_EVEN, 31_000),  # 62.5 fives -> 62 fives (even)
        ("1.024", "0.05", Rounding.HALF_UP, 100),  # 20.48 twentieths -> 20
        ("1.025", "0.05", Rounding.HALF_UP, 105),  # 20.5 -> 21
        ("1.099", "0.05", Rounding.DOWN, 105),
        ("-2.5", "1", Rounding.HALF_UP, -300),  # half away from zero
    ],
)
def test_rounding_to_a_unit(
    amount: str, unit: str, rounding: Rounding, expected_minor: int
) -> None:
    assert to_minor(Decimal(amount), "GBP", rounding, Decimal(unit)) == expected_minor


def test_a_unit_finer_than_the_currency_is_refused() -> None:
    with pytest.raises(MoneyError):
        to_minor(Decimal("1"), "GBP", Rounding.HALF_UP, Decimal("0.001"))
    found = problems_of(
        book(
            rounding_unit="0.005",
            outcomes=[outcome(rounding_unit="0"), outcome(id="other", rounding_unit="-1")],
        )
    )
    assert [field for field, _ in found] == [
        "rounding_unit",
        "outcomes.0.rounding_unit",
        "outcomes.1.rounding_unit",
    ]
    assert "not a whole number of GBP's minor unit (0.01)" in found[0][1]


def test_a_rule_book_without_the_new_constructs_keeps_its_canonical_form() -> None:
    canonical = parse_rulebook(book(outcomes=[outcome()])).canonical()
    assert "rounding_unit" not in canonical
    assert "entity_eligibility" not in canonical
    assert "rounding_unit" not in canonical["outcomes"][0]
    assert "rounding" not in canonical["outcomes"][0]


# ---- absence -------------------------------------------------------------------------------------
NO_ARREST_30_DAYS = outcome(
    max_per_participant=None,
    conditions=[{"absent": {"event": "arrest", "window": {"days_before": 30}}}],
)


def test_absence_within_the_days_before_the_trigger() -> None:
    document = book(outcomes=[NO_ARREST_30_DAYS])
    events = [
        RecordedEvent("a1", "arrest", D(2025, 3, 1)),
        RecordedEvent("r1", "review", D(2025, 3, 31)),  # 30 days after: inside the window
        RecordedEvent("r2", "review", D(2025, 4, 1)),  # 31 days after: outside
    ]
    assert claims_of(document, events) == [("paid", "r2")]


def test_a_late_arrest_breaks_an_absence_and_the_claim_goes() -> None:
    document = book(outcomes=[NO_ARREST_30_DAYS])
    review = RecordedEvent("r1", "review", D(2025, 3, 31))
    assert claims_of(document, [review]) == [("paid", "r1")]
    # the arrest happened before the review but was recorded after it
    late = RecordedEvent("a1", "arrest", D(2025, 3, 15))
    assert claims_of(document, [review, late]) == []


def test_absence_in_the_calendar_month_looks_past_the_trigger() -> None:
    document = book(
        outcomes=[
            outcome(
                per_period="month",
                conditions=[{"absent": {"event": "arrest", "window": {"period": "month"}}}],
            )
        ]
    )
    events = [
        RecordedEvent("r1", "review", D(2025, 3, 10)),
        RecordedEvent("a1", "arrest", D(2025, 3, 31)),  # later, but in March
        RecordedEvent("r2", "review", D(2025, 4, 10)),
        RecordedEvent("a2", "arrest", D(2025, 5, 1)),  # May: April stays clean
    ]
    assert claims_of(document, events) == [("paid", "r2")]


def test_no_earlier_event_of_a_kind_with_an_attribute_filter() -> None:
    no_earlier_face_to_face = {
        "absent": {
            "event": "meeting",
            "where": [{"attribute": "event.mode", "op": "==", "value": "face_to_face"}],
        }
    }
    document = book(outcomes=[outcome(conditions=[no_earlier_face_to_face])])
    phone = RecordedEvent("m1", "meeting", D(2025, 3, 1), {"mode": "phone"})
    face = RecordedEvent("m2", "meeting", D(2025, 3, 2), {"mode": "face_to_face"})
    review = RecordedEvent("r1", "review", D(2025, 3, 5))
    later_face = RecordedEvent("m3", "meeting", D(2025, 3, 6), {"mode": "face_to_face"})
    assert claims_of(document, [phone, review, later_face]) == [("paid", "r1")]
    assert claims_of(document, [phone, face, review]) == []


# ---- counts ------------------------------------------------------------------------------------
def test_at_least_three_meetings_within_28_days_of_referral() -> None:
    three_meetings = {
        "count": {
            "event": "meeting",
            "window": {"anchor": "referral", "days_after": 28},
            "op": ">=",
            "value": 3,
        }
    }
    document = book(
        outcomes=[outcome(requires=[{"event": "referral"}], conditions=[three_meetings])]
    )

    def meeting(event_id: str, day: dt.date) -> RecordedEvent:
        return RecordedEvent(event_id, "meeting", day, {"mode": "phone"})

    referral = RecordedEvent("ref", "referral", D(2025, 3, 1))
    review = RecordedEvent("r1", "review", D(2025, 5, 1))
    two_then_late = [meeting("m1", D(2025, 3, 2)), meeting("m2", D(2025, 3, 20))]
    assert claims_of(document, [referral, *two_then_late, review]) == []
    # day 28 (29 March) is the last day inside the window; day 29 is not
    assert (
        claims_of(document, [referral, *two_then_late, meeting("m3", D(2025, 3, 30)), review]) == []
    )
    assert claims_of(
        document, [referral, *two_then_late, meeting("m3", D(2025, 3, 29)), review]
    ) == [("paid", "r1")]


def test_distinct_months_with_a_contact() -> None:
    three_months = {"count": {"event": "contact", "distinct": "month", "op": ">=", "value": 3}}
    document = book(outcomes=[outcome(conditions=[three_months])])
    contacts = [
        RecordedEvent("c1", "contact", D(2025, 1, 5)),
        RecordedEvent("c2", "contact", D(2025, 1, 25)),  # January again: one month
        RecordedEvent("c3", "contact", D(2025, 2, 5)),
    ]
    review = RecordedEvent("r1", "review", D(2025, 3, 31))
    assert claims_of(document, [*contacts, review]) == []
    march = RecordedEvent("c4", "contact", D(2025, 3, 31))  # same day as the review: counts
    assert claims_of(document, [*contacts, march, review]) == [("paid", "r1")]


# ---- eligibility by kind of subject --------------------------------------------------------------
def hospital_book(**overrides: Any) -> dict[str, Any]:
    document = book(
        event_types={
            "hospital_trained": {
                "subject": "hospital",
                "attributes": {"staff_trained": {"type": "integer", "required": True}},
            },
            "baby_admitted": {
                "attributes": {"first_admission": {"type": "boolean", "required": True}}
            },
            "quality_care": {},
        },
        eligibility={
            "conditions": [
                {"attribute": "baby_admitted.first_admission", "op": "==", "value": True}
            ]
        },
        outcomes=[
            {"id": "hospital_paid", "trigger": "hospital_trained", "price": "1000.00"},
            {
                "id": "baby_paid",
                "trigger": "quality_care",
                "requires": [{"event": "baby_admitted"}],
                "price": "10.00",
            },
        ],
    )
    document.update(overrides)
    return document


def test_participant_eligibility_never_judges_a_hospital() -> None:
    hospital = [RecordedEvent("h1", "hospital_trained", D(2025, 2, 1), {"staff_trained": 5})]
    assert claims_of(hospital_book(), hospital) == [("hospital_paid", "h1")]
    baby = [
        RecordedEvent("b1", "baby_admitted", D(2025, 2, 1), {"first_admission": False}),
        RecordedEvent("b2", "quality_care", D(2025, 2, 2)),
    ]
    assert claims_of(hospital_book(), baby) == []


def test_an_entity_kind_has_eligibility_of_its_own() -> None:
    document = hospital_book(
        entity_eligibility={
            "hospital": {
                "conditions": [
                    {"attribute": "hospital_trained.staff_trained", "op": ">=", "value": 10}
                ]
            }
        }
    )
    small = [RecordedEvent("h1", "hospital_trained", D(2025, 2, 1), {"staff_trained": 5})]
    large = [RecordedEvent("h2", "hospital_trained", D(2025, 2, 1), {"staff_trained": 12})]
    assert claims_of(document, small) == []
    assert claims_of(document, large) == [("hospital_paid", "h2")]
    versions = [RuleBookVersion(1, parse_rulebook(document))]
    assert derive(versions, small).ineligible_reasons == ["condition 0 does not hold"]


def test_eligibility_that_can_never_be_judged_for_its_subject_is_refused() -> None:
    found = problems_of(
        hospital_book(
            entity_eligibility={
                "hospital": {
                    "conditions": [
                        {"attribute": "baby_admitted.first_admission", "op": "==", "value": True}
                    ]
                },
                "school": {"conditions": [{"attribute": "referral.x", "op": "==", "value": 1}]},
            }
        )
    )
    assert [field for field, _ in found] == [
        "entity_eligibility.school",
        "entity_eligibility.hospital.conditions.0.attribute",
    ]
    assert "no event type is about a 'school'" in found[0][1]
    assert "unknown name 'baby_admitted'" in found[1][1]


# ---- validation of counts and absences ---------------------------------------------------------
def test_counts_and_absences_used_wrongly_are_refused_with_every_problem() -> None:
    document = hospital_book(
        outcomes=[
            {
                "id": "baby_paid",
                "trigger": "quality_care",
                "price": "10.00",
                "conditions": [
                    {"absent": {"event": "nothing_like_it"}},
                    {"absent": {"event": "hospital_trained"}},
                    {"absent": {"event": "baby_admitted", "window": {"anchor": "referral"}}},
                    {
                        "count": {
                            "event": "baby_admitted",
                            "window": {"period": "month", "days_before": 3},
                            "op": ">=",
                            "value": 1,
                        }
                    },
                    {
                        "count": {
                            "event": "baby_admitted",
                            "distinct": "month",
                            "window": {"days_after": 28},
                            "op": ">=",
                            "value": 3,
                        }
                    },
                    {"count": {"event": "baby_admitted", "op": "<", "value": 0}},
                    {
                        "absent": {
                            "event": "baby_admitted",
                            "where": [{"attribute": "event.colour", "op": "==", "value": "red"}],
                        }
                    },
                ],
            }
        ]
    )
    fields = [field for field, _ in problems_of(document)]
    assert fields == [
        "outcomes.0.conditions.0.absent.event",
        "outcomes.0.conditions.1.absent.event",
        "outcomes.0.conditions.2.absent.window.anchor",
        "outcomes.0.conditions.3.count.window",
        "outcomes.0.conditions.4.count.value",
        "outcomes.0.conditions.5.count.value",
        "outcomes.0.conditions.6.absent.where.0.attribute",
    ]


def test_a_count_past_the_limit_is_refused_by_the_schema() -> None:
    too_many = {"count": {"event": "contact", "op": ">=", "value": 10_001}}
    fields = [field for field, _ in problems_of(book(outcomes=[outcome(conditions=[too_many])]))]
    assert fields == ["outcomes.0.conditions.0.count.value"]


def test_a_condition_of_no_known_kind_is_named_at_its_path() -> None:
    found = problems_of(book(outcomes=[outcome(conditions=[{"sometimes": True}])]))
    assert found == [
        (
            "outcomes.0.conditions.0",
            "a condition has exactly one of: attribute, days_between, cumulative_days, count, "
            "absent, all, any, not",
        )
    ]
