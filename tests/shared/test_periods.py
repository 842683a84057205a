"""Month and period arithmetic (shared/periods.py), checked against its definitions."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from shared.periods import (
    Period,
    add_months,
    first_day,
    label_of,
    labels_between,
    month_of,
    months_between,
)

days = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2200, 12, 31))
year_starts = st.integers(min_value=1, max_value=12)
periods = st.sampled_from(list(Period))


@given(days, st.integers(min_value=-600, max_value=600))
def test_adding_months_moves_the_calendar_month(day: dt.date, count: int) -> None:
    month = month_of(day)
    later = add_months(month, count)
    assert months_between(month, later) == count
    year, index = divmod(day.year * 12 + day.month - 1 + count, 12)
    assert later == f"{year:04d}-{index + 1:02d}"


@given(days, periods, year_starts)
def test_a_label_names_the_period_that_holds_the_day(
    day: dt.date, period: Period, starts: int
) -> None:
    first, last = period.bounds(day, starts)
    assert first <= day <= last
    assert period.start_of(period.label(day, starts), starts) == first
    assert period.label(first, starts) == period.label(last, starts) == period.label(day, starts)
    assert period.label(last + dt.timedelta(days=1), starts) != period.label(day, starts)
    assert months_between(month_of(first), month_of(last)) + 1 == period.months


@given(days, periods, year_starts)
def test_the_previous_label_is_the_period_before(day: dt.date, period: Period, starts: int) -> None:
    first, _ = period.bounds(day, starts)
    before = first - dt.timedelta(days=1)
    assert period.previous(period.label(day, starts)) == period.label(before, starts)


def test_reporting_years_starting_in_april() -> None:
    assert label_of(Period.YEAR, "2027-03", 4) == "2026"
    assert label_of(Period.QUARTER, "2026-04", 4) == "2026-Q1"
    assert label_of(Period.QUARTER, "2027-01", 4) == "2026-Q4"
    assert Period.QUARTER.start_of("2026-Q4", 4) == dt.date(2027, 1, 1)
    assert labels_between(Period.QUARTER, "2026-Q3", "2027-Q1") == [
        "2026-Q3",
        "2026-Q4",
        "2027-Q1",
    ]
    assert first_day("2026-02") == dt.date(2026, 2, 1)
