"""Periods as reports use them: months ``2026-03``, the contract's quarters ``2026-Q1`` and
reporting years ``2026`` (see :class:`shared.rules.model.Period` for years not starting in
January)."""

from __future__ import annotations

import datetime as dt

from shared.rules.model import Period


def first_day(month: str) -> dt.date:
    return dt.date(int(month[:4]), int(month[5:7]), 1)


def month_of(day: dt.date) -> str:
    return Period.MONTH.label(day)


def add_months(month: str, count: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(start: str, end: str) -> int:
    """How many months from ``start`` to ``end`` (0 when equal, negative when before)."""
    return (int(end[:4]) - int(start[:4])) * 12 + int(end[5:7]) - int(start[5:7])


def label_of(period: Period, month: str, year_starts: int = 1) -> str:
    """The label of the month, quarter or reporting year (starting in month ``year_starts``)
    that holds ``month``."""
    return period.label(first_day(month), year_starts)


def previous_label(period: Period, label: str) -> str:
    if period is Period.MONTH:
        return add_months(label, -1)
    if period is Period.QUARTER:
        year, quarter = int(label[:4]), int(label[6])
        return f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}"
    return f"{int(label) - 1:04d}"


def labels_between(period: Period, first: str, last: str, limit: int = 240) -> list[str]:
    """Consecutive labels from ``first`` to ``last`` inclusive (at most ``limit``)."""
    found = [last]
    while found[-1] > first and len(found) < limit:
        found.append(previous_label(period, found[-1]))
    return list(reversed(found))
