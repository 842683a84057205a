"""Rule-book language v2, continued: the reporting calendar, evaluation results and prices per
unit, composite scores, and payments for every occurrence.

Every expected figure is computed by hand in the comment beside it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from shared.rules.engine import RecordedEvent, RuleBookVersion, derive
from shared.rules.model import Period, parse_rulebook
from tests.shared.test_rules_language import D, book, claims_of, outcome, problems_of


# ---- the reporting calendar and the contract period --------------------------------------------
@pytest.mark.parametrize(
    ("day", "quarter", "year", "quarter_bounds"),
    [
        (D(2026, 3, 31), "2025-Q4", "2025", (D(2026, 1, 1), D(2026, 3, 31))),
        (D(2026, 4, 1), "2026-Q1", "2026", (D(2026, 4, 1), D(2026, 6, 30))),
        (D(2026, 12, 31), "2026-Q3", "2026", (D(2026, 10, 1), D(2026, 12, 31))),
        (D(2027, 2, 28), "2026-Q4", "2026", (D(2027, 1, 1), D(2027, 3, 31))),
    ],
)
def test_periods_of_a_reporting_year_from_april(
    day: dt.date, quarter: str, year: str, quarter_bounds: tuple[dt.date, dt.date]
) -> None:
    assert Period.QUARTER.label(day, 4) == quarter
    assert Period.YEAR.label(day, 4) == year
    assert Period.QUARTER.bounds(day, 4) == quarter_bounds
    first = dt.date(int(year), 4, 1)
    assert Period.YEAR.bounds(day, 4) == (first, dt.date(int(year) + 1, 3, 31))


def test_per_period_limits_and_windows_follow_the_reporting_year() -> None:
    once_a_year = outcome(
        per_period="year",
        conditions=[{"absent": {"event": "arrest", "window": {"period": "year"}}}],
    )
    january = book(outcomes=[once_a_year])
    april = book(outcomes=[once_a_year], calendar={"year_starts": 4})
    reviews = [
        RecordedEvent("r1", "review", D(2026, 3, 20)),
        RecordedEvent("r2", "review", D(2026, 4, 2)),
    ]
    # one calendar year 2026; but the reporting years 2025 (to March) and 2026 (from April)
    assert claims_of(january, reviews) == [("paid", "r1")]
    assert claims_of(april, reviews) == [("paid", "r1"), ("paid", "r2")]
    arrest = RecordedEvent("a1", "arrest", D(2026, 2, 1))
    # the February arrest is in calendar 2026 (both reviews) but in reporting year 2025 only
    assert claims_of(january, [*reviews, arrest]) == []
    assert claims_of(april, [*reviews, arrest]) == [("paid", "r2")]


def test_triggers_after_the_contract_ends_derive_nothing() -> None:
    document = book(outcomes=[outcome(max_per_participant=None)], contract_end="2026-12-31")
    events = [
        RecordedEvent("r1", "review", D(2026, 12, 31)),
        RecordedEvent("r2", "review", D(2027, 1, 1)),
    ]
    assert claims_of(document, events) == [("paid", "r1")]


def test_a_calendar_that_contradicts_the_contract_period_is_refused() -> None:
    found = problems_of(
        book(
            contract_end="2026-12-31",
            calendar={"year_starts": 13, "claims_until": "2026-06-30"},
        )
    )
    assert [field for field, _ in found] == ["calendar.year_starts"]
    found = problems_of(book(contract_end="2026-12-31", calendar={"claims_until": "2026-06-30"}))
    assert [field for field, _ in found] == ["calendar.claims_until"]
    found = problems_of(book(calendar={"claims_until": "2024-12-31"}))
    assert found == [("calendar.claims_until", "claims must be taken after the contract starts")]


# ---- evaluation results and prices per unit ------------------------------------------------------
def evaluation_book(**outcome_fields: Any) -> dict[str, Any]:
    return book(
        event_types={
            "referral": {},
            "impact_evaluated": {
                "subject": "cohort",
                "recorded_by": "evaluator",
                "attributes": {
                    "effect": {"type": "decimal", "required": True},
                    "cohort_size": {"type": "integer", "required": True, "minimum": 1},
                    "note": {"type": "string"},
                },
            },
        },
        outcomes=[
            {
                "id": "impact",
                "trigger": "impact_evaluated",
                "price": "100.00",
                "price_per": ["trigger.effect", "trigger.cohort_size"],
                **outcome_fields,
            }
        ],
    )


def evaluated(effect: str, size: int) -> list[RecordedEvent]:
    return [
        RecordedEvent(
            "e1", "impact_evaluated", D(2026, 6, 30), {"effect": effect, "cohort_size": size}
        )
    ]


def test_a_price_per_unit_of_effect_and_member_held_between_floor_and_ceiling() -> None:
    versions = [
        RuleBookVersion(
            1, parse_rulebook(evaluation_book(minimum_amount="500.00", maximum_amount="9000.00"))
        )
    ]
    [claim] = derive(versions, evaluated("2.5", 30)).claims
    # 100.00 x 2.5 x 30 = 7,500.00, inside the limits
    assert claim.amount_minor == 750_000
    assert claim.trace["per_unit"] == [
        {"attribute": "trigger.effect", "value": "2.5"},
        {"attribute": "trigger.cohort_size", "value": "30"},
    ]
    assert "limited" not in claim.trace
    [capped] = derive(versions, evaluated("4", 30)).claims  # 12,000.00 -> 9,000.00
    assert capped.amount_minor == 900_000
    assert capped.trace["limited"] == {"computed": "12000.00", "by": "maximum_amount"}
    [floored] = derive(versions, evaluated("0.1", 30)).claims  # 300.00 -> 500.00
    assert floored.amount_minor == 50_000


def test_an_effect_of_zero_or_below_earns_nothing() -> None:
    versions = [RuleBookVersion(1, parse_rulebook(evaluation_book()))]
    assert derive(versions, evaluated("0", 30)).claims == []
    assert derive(versions, evaluated("-1.5", 30)).claims == []


def test_evaluation_types_and_prices_per_unit_used_wrongly_are_refused() -> None:
    document = evaluation_book(
        price_per=["trigger.note", "trigger.missing", "referral.x"],
        minimum_amount="10.00",
        maximum_amount="5.00",
    )
    document["event_types"]["referral"] = {"recorded_by": "evaluator"}
    document["event_types"]["impact_evaluated"]["attributes"]["cohort_size"]["required"] = False
    document["outcomes"][0]["price_per"].append("trigger.cohort_size")
    assert [field for field, _ in problems_of(document)] == [
        "event_types.referral.subject",
        "outcomes.0.price_per.0",
        "outcomes.0.price_per.1",
        "outcomes.0.price_per.2",
        "outcomes.0.price_per.3",
        "outcomes.0.minimum_amount",
    ]


# ---- composite scores ---------------------------------------------------------------------------
def scored_book(scores: dict[str, Any], **outcome_fields: Any) -> dict[str, Any]:
    return book(
        event_types={
            "audit": {
                "subject": "clinic",
                "attributes": {
                    "hygiene": {"type": "integer", "required": True},
                    "waiting_days": {"type": "integer", "required": True},
                    "note": {"type": "string"},
                },
            }
        },
        scores=scores,
        outcomes=[{"id": "bonus", "trigger": "audit", "price": "300.00", **outcome_fields}],
    )


BANDS = [{"at_least": "90", "points": 3}, {"at_least": "50", "points": 1}]
QUALITY = {
    "quality": {
        "out_of": "9",
        "indicators": [
            {"id": "hygiene", "attribute": "trigger.hygiene", "bands": BANDS, "weight": "2"},
            {
                "id": "waiting",
                "attribute": "trigger.waiting_days",
                "bands": [{"at_most": "7", "points": 3}],
            },
        ],
    }
}


def test_a_score_scales_a_payment_and_gates_it() -> None:
    document = scored_book(
        QUALITY,
        scaled_by_score="quality",
        conditions=[{"attribute": "score.quality", "op": ">=", "value": "2"}],
    )
    versions = [RuleBookVersion(1, parse_rulebook(document))]

    def bonus(hygiene: int, waiting: int) -> int | None:
        events = [
            RecordedEvent(
                "a", "audit", D(2025, 3, 31), {"hygiene": hygiene, "waiting_days": waiting}
            )
        ]
        claims = derive(versions, events).claims
        return claims[0].amount_minor if claims else None

    # hygiene 95: 3 points x 2; waiting 5 days: 3 -> 9 of 9: 300.00
    assert bonus(95, 5) == 30_000
    # hygiene 60: 1 x 2; waiting 10 days: 0 -> 2 of 9: 300.00 x 2/9 = 66.666... -> 66.67
    assert bonus(60, 10) == 6_667
    assert bonus(40, 10) is None  # 0 points: below the gate of 2
    [claim] = derive(
        versions, [RecordedEvent("a", "audit", D(2025, 3, 31), {"hygiene": 95, "waiting_days": 9})]
    ).claims
    assert claim.trace["scaled_by_score"] == {
        "score": "quality",
        "points": "6",
        "out_of": "9",
        "indicators": [
            {"indicator": "hygiene", "value": "95", "points": "3", "weight": "2"},
            {"indicator": "waiting", "value": "9", "points": "0", "weight": "1"},
        ],
    }


def test_scores_defined_or_used_wrongly_are_refused() -> None:
    scores = {
        "quality": {
            "out_of": "5",  # the indicators can earn 3 x 2 + 3 = 9
            "indicators": [
                *QUALITY["quality"]["indicators"],
                {"id": "hygiene", "attribute": "trigger.note", "bands": BANDS},  # twice; text
                {"id": "both", "attribute": "trigger.hygiene", "score": "safety"},
                {"id": "nothing"},
                {"id": "bare", "attribute": "trigger.hygiene"},
            ],
        },
        "safety": {"out_of": "3", "indicators": [{"id": "from_care", "score": "care"}]},
        "care": {"out_of": "3", "indicators": [{"id": "from_safety", "score": "safety"}]},
    }
    document = scored_book(scores, scaled_by_score="quality")
    fields = [field for field, _ in problems_of(document)]
    assert fields == [
        "outcomes.0",
        "scores.quality.indicators.2.id",
        "scores.quality.indicators.3",
        "scores.quality.indicators.4",
        "scores.quality.indicators.5.bands",
        "scores.quality.out_of",
        "scores.safety",
    ]
    found = dict(problems_of(document))
    assert found["scores.safety"] == "circular: safety -> care -> safety"
    assert "reads trigger.note: not a number" in found["outcomes.0"]


def test_each_occurrence_pays_up_to_a_limit_per_quarter() -> None:
    """Every review pays, at most 4 per participant per quarter (of the contract's year)."""
    document = book(outcomes=[outcome(max_per_participant=4, per_period="quarter")])
    reviews = [RecordedEvent(f"r{i}", "review", D(2025, 1, 5 + i)) for i in range(6)]
    reviews.append(RecordedEvent("r-april", "review", D(2025, 4, 1)))
    claims = claims_of(document, reviews)
    # the first four of January's six, then April's in the next quarter
    assert claims == [
        ("paid", "r0"),
        ("paid", "r1"),
        ("paid", "r2"),
        ("paid", "r3"),
        ("paid", "r-april"),
    ]
