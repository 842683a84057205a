"""Quarter and year views: `period=quarter|year` makes the trends a series of quarters or
reporting years against their targets of that period, and groups cohorts by quarter or year."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from services.metrics.facts import STAGE, CubeKey, plan_for
from services.metrics.readmodels.cube import Filters, MemoryCube
from services.metrics.reports import REPORTS, ReportContext
from shared.periods import Period
from shared.rules.model import parse_rulebook
from tests.metrics.test_trends_and_averages import BOOK, JOB_STARTS

QUARTERLY_BOOK: dict[str, Any] = {
    **BOOK,
    "calendar": {"year_starts": 4},  # quarters: Jan-Mar is the reporting year 2025's Q4
    "targets": [
        *BOOK["targets"],
        {"id": "quarterly", "name": "Quarterly plan", "stage": "job_start", "period": "quarter",
         "values": {"2025-Q4": 120, "2026-Q1": 100}},
    ],
}  # fmt: skip
# referrals (the cohort stage) by month; each referral's cohort is its month
REFERRALS = {"2026-01": 10, "2026-02": 8, "2026-03": 5, "2026-04": 4}


def context(month: str, period: Period) -> ReportContext:
    rulebook = parse_rulebook(QUARTERLY_BOOK)
    counts: Counter[CubeKey] = Counter()
    for m, n in JOB_STARTS.items():
        counts[CubeKey(STAGE, "p", "", "2026-01", "", "job_start", m)] += n
    for m, n in REFERRALS.items():
        counts[CubeKey(STAGE, "p", "", m, "", "referral", m)] += n
    return ReportContext(
        rulebook, plan_for(rulebook), MemoryCube(counts), Filters(), month,
        dt.date(2026, 6, 1), period=period,
    )  # fmt: skip


def trends(month: str, period: Period) -> list[tuple[Any, ...]]:
    return [
        (r["period"], r["month"], r["participants"], r["contract_to_date"], r["target_id"],
         r["target"], r["actual"], r["percent_of_target"])
        for r in REPORTS["trends"](context(month, period))
        if r["stage"] == "job_start"
    ]  # fmt: skip


def test_trends_by_quarter_against_the_quarterly_targets() -> None:
    """Job starts 40, 44, 42 in January to March (the reporting year 2025's Q4, the year
    starting in April), 32 in April and 7 in May (2026-Q1, to May's end)."""
    assert trends("2026-05", Period.QUARTER) == [
        ("2025-Q4", "2026-03", 126, 126, "quarterly", 120, 126, "105.0"),
        ("2026-Q1", "2026-05", 39, 165, "quarterly", 100, 39, "39.0"),
    ]


def test_trends_by_reporting_year_without_a_yearly_series_give_the_participants() -> None:
    assert trends("2026-05", Period.YEAR) == [
        ("2025", "2026-03", 126, 126, None, None, 126, None),
        ("2026", "2026-05", 39, 165, None, None, 39, None),
    ]


def test_monthly_trends_keep_their_month_as_the_period() -> None:
    rows = trends("2026-02", Period.MONTH)
    assert {(period, month) for period, month, *_ in rows} == {
        ("2026-01", "2026-01"),
        ("2026-02", "2026-02"),
    }


def test_cohorts_by_quarter_and_by_year() -> None:
    def cohorts(period: Period) -> dict[str, int]:
        rows = REPORTS["cohorts"](context("2026-05", period))
        return {r["cohort"]: r["participants"] for r in rows if r["stage"] == "referral"}

    assert cohorts(Period.MONTH) == REFERRALS
    assert cohorts(Period.QUARTER) == {"2025-Q4": 23, "2026-Q1": 4}
    assert cohorts(Period.YEAR) == {"2025": 23, "2026": 4}
