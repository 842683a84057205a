"""The money report for a month is the books as of that month's end, by the ledger month each
transaction was booked in: the contract to date, and the month, the quarter to date and the
reporting year to date (a regression test: it showed everything booked to date whatever the
month)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from services.metrics.facts import plan_for
from services.metrics.readmodels.cube import Filters, MemoryCube
from services.metrics.reports import REPORTS, MoneyFigures, ReportContext
from shared.rules.model import parse_rulebook

DEMO = yaml.safe_load((Path(__file__).parent / "reports-demo.yaml").read_text())
BOOKED = {  # (provider, ledger month) -> accrued, paid, capped (minor units)
    ("alpha", "2026-01"): MoneyFigures(10_000, 0, 0),
    ("alpha", "2026-02"): MoneyFigures(20_000, 10_000, 500),
    ("alpha", "2026-04"): MoneyFigures(5_000, 0, 0),
    ("beta", "2025-12"): MoneyFigures(30_000, 30_000, 0),
}
COLUMNS = (
    "provider_id",
    "accrued",
    "paid",
    "capped",
    "unpaid",
    "accrued_month",
    "paid_month",
    "accrued_quarter_to_date",
    "accrued_year_to_date",
    "paid_year_to_date",
)


def money(month: str, **calendar: Any) -> list[tuple[Any, ...]]:
    document = {**DEMO, **({"calendar": calendar} if calendar else {})}
    rulebook = parse_rulebook(document)
    context = ReportContext(
        rulebook,
        plan_for(rulebook),
        MemoryCube({}),  # type: ignore[arg-type]
        Filters(),
        month,
        dt.date(2026, 11, 30),
        read_money=lambda: BOOKED,
    )
    return [tuple(row[c] for c in COLUMNS) for row in REPORTS["money"](context)]


def test_a_month_shows_what_was_booked_by_its_end() -> None:
    assert money("2026-02") == [
        ("alpha", "300.00", "100.00", "5.00", "200.00",
         "200.00", "100.00", "300.00", "300.00", "100.00"),
        ("beta", "300.00", "300.00", "0.00", "0.00",
         "0.00", "0.00", "0.00", "0.00", "0.00"),
        ("*", "600.00", "400.00", "5.00", "200.00",
         "200.00", "100.00", "300.00", "300.00", "100.00"),
    ]  # fmt: skip


def test_a_month_before_anything_was_booked_is_zero() -> None:
    assert money("2025-11") == [
        ("*", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00"),
    ]


def test_the_quarter_and_year_follow_the_contract_calendar() -> None:
    """With a year starting in April, February 2026 is in 2025-Q4 (January to March) and the
    reporting year began in April 2025, so December's accrual for beta is in the year to date."""
    rows = money("2026-02", year_starts=4)
    assert rows[1] == ("beta", "300.00", "300.00", "0.00", "0.00", "0.00", "0.00", "0.00",
                       "300.00", "300.00")  # fmt: skip
    assert money("2026-04", year_starts=4)[0][5:9] == ("50.00", "0.00", "50.00", "50.00")
