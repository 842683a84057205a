"""The rule book's vocabulary: names, limits, decimal text, and the contract's calendar.

Shared by :mod:`shared.rules.model` (the document) and :mod:`shared.rules.condition_types`.
Its :class:`Period` is :class:`shared.periods.Period`, where all period arithmetic lives.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.identifiers import PUBLIC_ID_PATTERN
from shared.periods import Period as Period  # the rule book's periods, re-exported

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


class Calendar(Strict):
    """The contract's reporting calendar and when it stops taking events."""

    year_starts: int = Field(
        default=1, ge=1, le=12, description="The month its reporting year starts (4: April)"
    )
    claims_until: dt.date | None = Field(
        default=None,
        description="The last day events are accepted (and so claims derived) [no such day]",
    )
