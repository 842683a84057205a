"""Means and medians of a numeric attribute over a subset: the average hourly wage of job
starts, of high-barrier job starts, per span of the reporting calendar."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from services.metrics.facts import CubeKey, LiveEvent, contributions, participant_facts, plan_for
from services.metrics.readmodels.cube import Filters, MemoryCube
from services.metrics.reports import REPORTS, ReportContext
from services.metrics.reports.averages import statistics
from shared.rules.model import RuleBookInvalid, parse_rulebook
from tests.metrics.test_reports import Demo, demo

__all__ = ["demo"]  # the fixture
LTU = "long_term_unemployed"

BOOK: dict[str, Any] = {
    "contract_id": "wage-demo",
    "name": "Wage demo",
    "currency": "GBP",
    "effective_from": "2026-01-01",
    "calendar": {"year_starts": 4},
    "providers": [{"id": "p", "name": "P"}],
    "event_types": {
        "referral": {"attributes": {"ltu": {"type": "boolean", "flag": "barrier"}}},
        "job_start": {"attributes": {
            "hourly_wage": {"type": "decimal", "minimum": 0},
            "hours": {"type": "integer"},
            "employer": {"type": "string"},
            "payroll_id": {"type": "string", "personal": True},
        }},
    },
    "reporting": {"averages": [
        {"id": "wage", "name": "Hourly wage at job start", "attribute": "job_start.hourly_wage"},
    ]},
}  # fmt: skip

# (ltu, job start day, wage): the wage on the participant's first job start
PEOPLE = [
    (True, "2026-02-10", "11.00"),
    (False, "2026-02-20", "12.50"),
    (True, "2026-03-03", "12.5"),  # the same value written another way
    (False, "2026-03-15", 14),  # a number, not a string
    (False, "2026-03-20", None),  # no wage recorded: not counted
    (True, "2026-04-02", "20.00"),  # after March: not in a March report
]


def cube() -> MemoryCube:
    rulebook = parse_rulebook(BOOK)
    plan = plan_for(rulebook)
    counts: Counter[CubeKey] = Counter()
    for ltu, day, wage in PEOPLE:
        events = [
            LiveEvent("referral", dt.date(2026, 1, 5), {"ltu": ltu}),
            LiveEvent("job_start", dt.date.fromisoformat(day), {"hourly_wage": wage}),
            # a later job start's wage is not the participant's value
            LiveEvent("job_start", dt.date(2026, 5, 30), {"hourly_wage": "99.00"}),
        ]
        counts.update(contributions(plan, participant_facts(plan, "p", events)))
    return MemoryCube(counts)


def averages(month: str, filters: Filters | None = None) -> dict[str, tuple[Any, ...]]:
    rulebook = parse_rulebook(BOOK)
    context = ReportContext(
        rulebook, plan_for(rulebook), cube(), filters or Filters(), month, dt.date(2026, 6, 1)
    )
    return {
        row["span"]: (
            row["participants"], row["mean"], row["median"], row["minimum"], row["maximum"]
        )
        for row in REPORTS["averages"](context)
    }  # fmt: skip


def test_mean_median_least_and_greatest_per_span() -> None:
    march = averages("2026-03")
    assert march == {
        "month": (2, "13.25", "13.25", "12.5", "14"),  # 12.5 and 14
        "quarter_to_date": (4, "12.50", "12.50", "11", "14"),  # Jan-Mar: the year starts in April
        "year_to_date": (4, "12.50", "12.50", "11", "14"),
        "contract_to_date": (4, "12.50", "12.50", "11", "14"),
    }
    april = averages("2026-04")
    assert april["month"] == (1, "20.00", "20.00", "20", "20")
    assert april["year_to_date"] == (1, "20.00", "20.00", "20", "20")  # a new reporting year
    assert april["contract_to_date"] == (5, "14.00", "12.50", "11", "20")


def test_the_average_of_a_subset_named_by_a_flag() -> None:
    """The average hourly wage of the long-term unemployed's job starts: 11.00 and 12.5."""
    march = averages("2026-03", Filters(flag=("ltu", "true")))
    assert march["contract_to_date"] == (2, "11.75", "11.75", "11", "12.5")
    assert averages("2026-03", Filters(flag=("ltu", "false")))["month"] == (
        1, "14.00", "14.00", "14", "14",
    )  # fmt: skip


def test_statistics_of_no_values_and_of_an_odd_count() -> None:
    from decimal import Decimal

    assert statistics(Counter()) == {
        "participants": 0, "mean": None, "median": None, "minimum": None, "maximum": None,
    }  # fmt: skip
    values = Counter({Decimal("1"): 2, Decimal("10"): 1})
    assert statistics(values) == {
        "participants": 3, "mean": "4.00", "median": "1.00", "minimum": "1", "maximum": "10",
    }  # fmt: skip


def test_a_contract_without_averages_reports_no_rows() -> None:
    book = {**BOOK, "reporting": {}}
    rulebook = parse_rulebook(book)
    context = ReportContext(
        rulebook, plan_for(rulebook), cube(), Filters(), "2026-03", dt.date(2026, 6, 1)
    )
    assert REPORTS["averages"](context) == []


@pytest.mark.parametrize(
    ("attribute", "field", "message"),
    [
        ("exit.hourly_wage", "reporting.averages.0.attribute", "not a participant event type"),
        ("job_start.tips", "reporting.averages.0.attribute", "has no attribute 'tips'"),
        ("job_start.employer", "reporting.averages.0.attribute", "integer or decimal"),
        ("referral.ltu", "reporting.averages.0.attribute", "integer or decimal"),
        ("job_start.payroll_id", "reporting.averages.0.attribute", "personal"),
    ],
)
def test_an_average_of_what_is_not_a_numeric_attribute_is_refused(
    attribute: str, field: str, message: str
) -> None:
    book = {**BOOK, "reporting": {"averages": [{"id": "x", "name": "X", "attribute": attribute}]}}
    with pytest.raises(RuleBookInvalid) as refused:
        parse_rulebook(book)
    [problem] = [p for p in refused.value.problems if p.field == field]
    assert message in problem.message


def test_average_ids_are_unique_and_the_hours_average_is_accepted() -> None:
    two = [
        {"id": "x", "name": "Wage", "attribute": "job_start.hourly_wage"},
        {"id": "x", "name": "Hours", "attribute": "job_start.hours"},
    ]
    with pytest.raises(RuleBookInvalid) as refused:
        parse_rulebook({**BOOK, "reporting": {"averages": two}})
    assert any(p.field.startswith("reporting.averages") for p in refused.value.problems)
    two[1]["id"] = "hours"
    assert len(parse_rulebook({**BOOK, "reporting": {"averages": two}}).reporting.averages) == 2


def test_averages_follow_the_feed_and_corrections(demo: Demo) -> None:
    """The report demo: job starts of A1 (11.00, February) and A3 (14.25, March); A2's job start
    was corrected with no wage, so its 12.50 no longer counts."""
    rows = {r["span"]: r for r in demo.report("averages")}
    assert (rows["month"]["participants"], rows["month"]["mean"]) == (1, "14.25")
    whole = rows["contract_to_date"]
    assert (whole["participants"], whole["mean"], whole["median"]) == (2, "12.63", "12.63")
    flagged = {r["span"]: r for r in demo.report("averages", filters={"flag": (LTU, "true")})}
    assert (flagged["contract_to_date"]["participants"], flagged["contract_to_date"]["mean"]) == (
        1, "11.00",
    )  # fmt: skip
    as_first_known = demo.report("averages", as_known_at=demo.first_batch_known_at)
    before = {r["span"]: r for r in as_first_known}["contract_to_date"]
    assert (before["participants"], before["mean"]) == (3, "12.58")  # A2's 12.50 still there
