"""A stage as a monthly series over the contract to date against its monthly targets, and the
actual as a percentage of the three previous periods' average."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from services.metrics.facts import STAGE, CubeKey, plan_for
from services.metrics.readmodels.cube import Filters, MemoryCube
from services.metrics.reports import REPORTS, ReportContext
from shared.periods import Period
from shared.rules.model import RuleBookInvalid, parse_rulebook

BOOK: dict[str, Any] = {
    "contract_id": "trend-demo",
    "name": "Trend demo",
    "currency": "GBP",
    "effective_from": "2026-01-01",
    "providers": [{"id": "p", "name": "P"}],
    "event_types": {"referral": {}, "job_start": {}},
    "targets": [
        {"id": "plan", "name": "Plan", "stage": "job_start", "period": "month",
         "values": {"2026-01": 40, "2026-02": 40, "2026-03": 40, "2026-04": 40}},
        {"id": "to_date", "name": "To date", "stage": "job_start", "period": "month",
         "cumulative": "contract_to_date", "values": {"2026-02": 80, "2026-04": 200}},
    ],
}  # fmt: skip
JOB_STARTS = {"2026-01": 40, "2026-02": 44, "2026-03": 42, "2026-04": 32, "2026-05": 7}
REFERRALS = {"2025-12": 5, "2026-02": 60}  # one December referral: before the rule book's date


def report(name: str, month: str, book: dict[str, Any] = BOOK) -> list[dict[str, Any]]:
    rulebook = parse_rulebook(book)
    counts: Counter[CubeKey] = Counter()
    for stage, months in (("job_start", JOB_STARTS), ("referral", REFERRALS)):
        for m, n in months.items():
            counts[CubeKey(STAGE, "p", "", "2026-01", "", stage, m)] += n
    context = ReportContext(
        rulebook, plan_for(rulebook), MemoryCube(counts), Filters(), month, dt.date(2026, 6, 1)
    )
    return REPORTS[name](context)


def test_the_actual_as_a_percentage_of_the_previous_three_periods_average() -> None:
    """April's 32 job starts against the average of January to March, (40 + 44 + 42) / 3 = 42:
    76.2 %, down."""
    april = [r for r in report("targets", "2026-04") if r["target_id"] == "plan"][-1]
    assert (april["period"], april["actual"], april["average_of_previous_3"]) == (
        "2026-04",
        32,
        "42.0",
    )
    assert (april["against_average"], april["percent_of_average"]) == ("down", "76.2")
    january = next(r for r in report("targets", "2026-01") if r["target_id"] == "plan")
    assert january["percent_of_average"] is None  # no earlier periods: no average to compare


def test_each_stage_month_by_month_against_its_monthly_targets() -> None:
    """From December (a referral came before the rule book's date) to April; a cumulative
    series compares the contract to date."""
    rows = report("trends", "2026-04")
    columns = ("month", "participants", "contract_to_date", "target", "actual", "percent_of_target")
    plan = [tuple(r[c] for c in columns) for r in rows if r["target_id"] == "plan"]
    assert plan == [
        ("2025-12", 0, 0, None, 0, None),
        ("2026-01", 40, 40, 40, 40, "100.0"),
        ("2026-02", 44, 84, 40, 44, "110.0"),
        ("2026-03", 42, 126, 40, 42, "105.0"),
        ("2026-04", 32, 158, 40, 32, "80.0"),
    ]
    to_date = [tuple(r[c] for c in columns[3:]) for r in rows if r["target_id"] == "to_date"]
    assert to_date == [
        (None, 0, None),
        (None, 40, None),
        (80, 84, "105.0"),
        (None, 126, None),
        (200, 158, "79.0"),
    ]


def test_a_stage_without_monthly_targets_is_one_row_a_month_from_the_first_reached() -> None:
    referrals = [r for r in report("trends", "2026-03") if r["stage"] == "referral"]
    assert [(r["month"], r["participants"], r["contract_to_date"], r["target_id"])
            for r in referrals] == [
        ("2025-12", 5, 5, None),
        ("2026-01", 0, 5, None),
        ("2026-02", 60, 65, None),
        ("2026-03", 0, 65, None),
    ]  # fmt: skip


def test_a_month_before_the_contract_has_no_rows() -> None:
    book = {**BOOK, "effective_from": "2026-01-01"}
    assert report("trends", "2025-11", book) == []


def test_caseload_per_wte_over_a_quarter_uses_the_quarters_average_wte() -> None:
    """A quarter's job starts over the quarter's average WTE: (40 + 44 + 42) job starts in
    January to March over (2 + 3 + 4) / 3 = 3 WTE is 42 per WTE; a month alone is its own."""
    rulebook = parse_rulebook(BOOK)
    counts: Counter[CubeKey] = Counter()
    for m, n in JOB_STARTS.items():
        counts[CubeKey(STAGE, "p", "", "2026-01", "", "job_start", m)] += n
    staffing = {
        ("p", "2026-01"): Decimal("2"),
        ("p", "2026-02"): Decimal("3"),
        ("p", "2026-03"): Decimal("4"),
        ("p", "2026-04"): Decimal("1.5"),
    }

    def caseload(month: str, period: Period) -> tuple[Any, ...]:
        context = ReportContext(
            rulebook, plan_for(rulebook), MemoryCube(counts), Filters(), month,
            dt.date(2026, 6, 1), staffing, period=period,
        )  # fmt: skip
        [row] = [r for r in REPORTS["caseload"](context) if r["stage"] == "job_start"]
        return row["period"], row["wte"], row["participants"], row["per_wte"]

    assert caseload("2026-03", Period.QUARTER) == ("2026-Q1", "3", 126, "42.00")
    assert caseload("2026-02", Period.QUARTER) == ("2026-Q1", "2.5", 84, "33.60")  # to date
    assert caseload("2026-03", Period.MONTH) == ("2026-03", "4", 42, "10.50")
    # (2 + 3 + 4 + 1.5) / 4 = 2.625 WTE, shown to two places; 158 / 2.625 = 60.19...
    assert caseload("2026-04", Period.YEAR) == ("2026", "2.63", 158, "60.19")


RATES_BOOK: dict[str, Any] = {
    **BOOK,
    "reporting": {
        "rates": [
            {"id": "all", "name": "Of everyone", "stage": "job_start", "denominator": "everyone"},
            {"id": "in_period", "name": "Of the period's referrals", "stage": "job_start",
             "denominator": "period"},
            {"id": "due", "name": "Of the cohorts due", "stage": "job_start",
             "denominator": "due_cohorts", "due_days": 60},
        ]
    },
}  # fmt: skip


def rates(month: str, period: Period = Period.MONTH) -> dict[str, tuple[Any, ...]]:
    """Referrals: 10 in January, 8 in February, 5 in March; job starts: 6 of January's (one of
    them in May), 2 of February's, none of March's."""
    rulebook = parse_rulebook(RATES_BOOK)
    counts: Counter[CubeKey] = Counter()
    for cohort, referred, started in (
        ("2026-01", 10, {"2026-03": 5, "2026-05": 1}),
        ("2026-02", 8, {"2026-04": 2}),
        ("2026-03", 5, {}),
    ):
        counts[CubeKey(STAGE, "p", "", cohort, "", "referral", cohort)] += referred
        for month_started, n in started.items():
            counts[CubeKey(STAGE, "p", "", cohort, "", "job_start", month_started)] += n
    context = ReportContext(
        rulebook, plan_for(rulebook), MemoryCube(counts), Filters(), month,
        dt.date(2026, 11, 30), period=period,
    )  # fmt: skip
    return {
        r["rate_id"]: (r["cohorts"], r["base"], r["reached"], r["rate_percent"])
        for r in REPORTS["rates"](context)
    }  # fmt: skip


def test_outcome_rates_over_each_declared_denominator() -> None:
    assert rates("2026-04") == {
        "all": ("2026-01..2026-03", 23, 7, "30.4"),  # May's job start not yet
        "in_period": (None, 0, 0, None),  # nobody referred in April
        "due": ("2026-01..2026-02", 18, 7, "38.9"),  # March's cohort is due on 30 May
    }
    assert rates("2026-03", Period.QUARTER)["in_period"] == ("2026-01..2026-03", 23, 5, "21.7")
    assert rates("2026-05")["due"] == ("2026-01..2026-03", 23, 8, "34.8")


@pytest.mark.parametrize(
    ("rate", "field"),
    [
        ({"stage": "exit"}, "reporting.rates.0.stage"),
        ({"denominator": "due_cohorts"}, "reporting.rates.0.due_days"),
        ({"due_days": 30}, "reporting.rates.0.due_days"),
        ({"denominator": "cohort"}, "reporting.rates.0.denominator"),
        ({"due_days": -1, "denominator": "due_cohorts"}, "reporting.rates.0.due_days"),
    ],
)
def test_a_rate_that_cannot_be_counted_is_refused(rate: dict[str, Any], field: str) -> None:
    declared = {"id": "r", "name": "R", "stage": "job_start", "denominator": "everyone", **rate}
    with pytest.raises(RuleBookInvalid) as caught:
        parse_rulebook({**BOOK, "reporting": {"rates": [declared]}})
    assert [problem.field for problem in caught.value.problems] == [field]


def test_a_rate_declared_twice_is_refused() -> None:
    declared = {"id": "r", "name": "R", "stage": "job_start", "denominator": "everyone"}
    with pytest.raises(RuleBookInvalid) as caught:
        parse_rulebook({**BOOK, "reporting": {"rates": [declared, declared]}})
    assert [problem.field for problem in caught.value.problems] == ["reporting.rates.1.id"]
