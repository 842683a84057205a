"""The rule book's vocabulary: names, limits, decimal text, and the contract's periods.

Shared by :mod:`shared.rules.model` (the document) and :mod:`shared.rules.condition_types`.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.identifiers import PUBLIC_ID_PATTERN

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
PARTICIPANT = "participant"
MAX_DAYS = 36_500
MAX_ITEMS = 200
MAX_STRING_LENGTH = 500
MAX_COUNT = 10_000

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
AttributeReference = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$")]
PublicId = Annotated[str, Field(pattern=PUBLIC_ID_PATTERN)]
DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,10})?$")]
Percentage = Annotated[str, Field(pattern=r"^[0-9]{1,3}(\.[0-9]{1,6})?$")]
PeriodLabel = Annotated[str, Field(pattern=r"^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$")]


def unset(value: object) -> bool:
    """Optional constructs added after format 1 are left out of the canonical document while
    unset, so a rule book written before them keeps its digest (and its registration)."""
    return value is None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(StrEnum):
    """A month, or the contract's quarter or reporting year.

    A reporting year that starts in April (``year_starts: 4``) is labelled by the calendar year
    it starts in: ``2026`` runs from April 2026 to March 2027 and ``2026-Q1`` is April to June
    2026. With the default January start, labels are plain calendar ones."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    def label(self, day: dt.date, year_starts: int = 1) -> str:
        if self is Period.MONTH:
            return f"{day.year:04d}-{day.month:02d}"
        year, offset = _reporting_year(day, year_starts)
        if self is Period.QUARTER:
            return f"{year:04d}-Q{offset // 3 + 1}"
        return f"{year:04d}"

    def bounds(self, day: dt.date, year_starts: int = 1) -> tuple[dt.date, dt.date]:
        """The first and last day of the period that holds ``day``."""
        if self is Period.MONTH:
            first, months = dt.date(day.year, day.month, 1), 1
        else:
            year, offset = _reporting_year(day, year_starts)
            start_offset, months = (offset // 3 * 3, 3) if self is Period.QUARTER else (0, 12)
            first = _add_months(dt.date(year, year_starts, 1), start_offset)
        return first, _add_months(first, months) - dt.timedelta(days=1)


def _reporting_year(day: dt.date, year_starts: int) -> tuple[int, int]:
    """(the reporting year's label, months since it started) for a day."""
    offset = (day.month - year_starts) % 12
    return (day.year if day.month >= year_starts else day.year - 1), offset


def _add_months(first_of_month: dt.date, months: int) -> dt.date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


class Calendar(Strict):
    """The contract's reporting calendar and when it stops taking events."""

    year_starts: int = Field(
        default=1, ge=1, le=12, description="The month its reporting year starts (4: April)"
    )
    claims_until: dt.date | None = Field(
        default=None,
        description="The last day events are accepted (and so claims derived) [no such day]",
    )
