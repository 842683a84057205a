"""Month and period arithmetic, in one place: months ``2026-03``, the contract's quarters
``2026-Q1`` and reporting years ``2026``.

A reporting year that starts in April (``year_starts: 4``) is labelled by the calendar year it
starts in: ``2026`` runs from April 2026 to March 2027 and ``2026-Q1`` is April to June 2026.
With the default January start, labels are plain calendar ones. Pure: no I/O, no framework.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}


# ---- months ----------------------------------------------------------------------------------
def month_of(day: dt.date) -> str:
    """The month label of a day (or of a moment's date): ``2026-03``."""
    return f"{day.year:04d}-{day.month:02d}"


def first_day(month: str) -> dt.date:
    """The first day of a month label."""
    return dt.date(int(month[:4]), int(month[5:7]), 1)


def add_months(month: str, count: int) -> str:
    """The month label ``count`` months after ``month`` (before it when negative)."""
    return month_of(shift(first_day(month), count))


def months_between(start: str, end: str) -> int:
    """How many months from ``start`` to ``end`` (0 when equal, negative when before)."""
    return (int(end[:4]) - int(start[:4])) * 12 + int(end[5:7]) - int(start[5:7])


def shift(first_of_month: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` months after a month's first day."""
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def reporting_year(day: dt.date, year_starts: int) -> tuple[int, int]:
    """(the reporting year's label, months since it started) for a day."""
    offset = (day.month - year_starts) % 12
    return (day.year if day.month >= year_starts else day.year - 1), offset


# ---- periods ---------------------------------------------------------------------------------
class Period(StrEnum):
    """A month, or the contract's quarter or reporting year (see the module's note)."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    @property
    def months(self) -> int:
        return MONTHS_IN[self.value]

    def label(self, day: dt.date, year_starts: int = 1) -> str:
        if self is Period.MONTH:
            return month_of(day)
        year, offset = reporting_year(day, year_starts)
        if self is Period.QUARTER:
            return f"{year:04d}-Q{offset // 3 + 1}"
        return f"{year:04d}"

    def bounds(self, day: dt.date, year_starts: int = 1) -> tuple[dt.date, dt.date]:
        """The first and last day of the period that holds ``day``."""
        if self is Period.MONTH:
            first = dt.date(day.year, day.month, 1)
        else:
            year, offset = reporting_year(day, year_starts)
            start_offset = offset // 3 * 3 if self is Period.QUARTER else 0
            first = shift(dt.date(year, year_starts, 1), start_offset)
        return first, shift(first, self.months) - dt.timedelta(days=1)

    def start_of(self, label: str, year_starts: int = 1) -> dt.date:
        """The first day of the period a label names."""
        if self is Period.MONTH:
            return first_day(label)
        start = dt.date(int(label[:4]), year_starts, 1)
        if self is Period.QUARTER:
            return shift(start, (int(label[6]) - 1) * 3)
        return start

    def previous(self, label: str) -> str:
        """The label of the period before the one a label names."""
        if self is Period.MONTH:
            return add_months(label, -1)
        if self is Period.QUARTER:
            year, quarter = int(label[:4]), int(label[6])
            return f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}"
        return f"{int(label) - 1:04d}"


def label_of(period: Period, month: str, year_starts: int = 1) -> str:
    """The label of the month, quarter or reporting year (starting in month ``year_starts``)
    that holds ``month``."""
    return period.label(first_day(month), year_starts)


def labels_between(period: Period, first: str, last: str, limit: int = 240) -> list[str]:
    """Consecutive labels from ``first`` to ``last`` inclusive (at most ``limit``)."""
    found = [last]
    while found[-1] > first and len(found) < limit:
        found.append(period.previous(found[-1]))
    return list(reversed(found))
