"""Conditions a rule book writes: comparisons, day counts, counts and absences, and/or/not.

Each kind has one distinguishing key (``attribute``, ``days_between``, ``cumulative_days``,
``count``, ``absent``, ``all``, ``any``, ``not``), so an error names the field at fault.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from shared.rules.vocabulary import MAX_COUNT, MAX_DAYS, MAX_ITEMS, Name, Period, Strict

ComparisonOp = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in"]
OrderOp = Literal["==", "!=", "<", "<=", ">", ">="]
Scalar = int | bool | str


class Comparison(Strict):
    """``<name>.<attribute> <op> <value>``: name is ``trigger`` or a requirement's alias."""

    attribute: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$")
    op: ComparisonOp
    value: Scalar | list[Scalar] | None


class DaysBetweenSpec(Strict):
    start: Name
    end: Name = "trigger"
    op: OrderOp
    value: int = Field(ge=0, le=MAX_DAYS)


class DaysBetween(Strict):
    """Days from one named event to another (end minus start), compared with a number."""

    days_between: DaysBetweenSpec


class CumulativeDaysSpec(Strict):
    start: Name
    stop: Name
    op: OrderOp
    value: int = Field(ge=0, le=MAX_DAYS)


class CumulativeDays(Strict):
    """Total days inside start→stop spells (e.g. in work across several jobs) up to the trigger."""

    cumulative_days: CumulativeDaysSpec


class AllOf(Strict):
    all: list[Condition] = Field(min_length=1, max_length=MAX_ITEMS)


class AnyOf(Strict):
    any: list[Condition] = Field(min_length=1, max_length=MAX_ITEMS)


class Not(Strict):
    not_: Condition = Field(alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Window(Strict):
    """Which of the subject's events a count or an absence looks at, around an anchor event.

    ``days_before`` and ``days_after`` make an inclusive window of days around the anchor's
    date; ``period`` takes the calendar period that holds it; with none of them, the window is
    every event on or before the anchor's day. The anchor event itself is never counted.
    """

    anchor: Name = Field(default="trigger", description="trigger, or a requirement's name")
    days_before: int | None = Field(default=None, ge=0, le=MAX_DAYS)
    days_after: int | None = Field(default=None, ge=0, le=MAX_DAYS)
    period: Period | None = None


class CountSpec(Strict):
    event: Name
    where: list[Comparison] = Field(
        default_factory=list,
        max_length=20,
        description="Conditions on each counted event, written event.<attribute>",
    )
    window: Window = Field(default_factory=Window)
    distinct: Period | None = Field(
        default=None, description="Count the distinct periods with such an event, not events"
    )
    op: OrderOp
    value: int = Field(ge=0, le=MAX_COUNT)


class Count(Strict):
    """How many of the subject's events of a type fall in a window, compared with a number."""

    count: CountSpec


class AbsenceSpec(Strict):
    event: Name
    where: list[Comparison] = Field(default_factory=list, max_length=20)
    window: Window = Field(default_factory=Window)


class Absent(Strict):
    """No event of the type in the window (a count of zero)."""

    absent: AbsenceSpec


CONDITION_KINDS: dict[str, type[BaseModel]] = {
    "attribute": Comparison,
    "days_between": DaysBetween,
    "cumulative_days": CumulativeDays,
    "count": Count,
    "absent": Absent,
    "all": AllOf,
    "any": AnyOf,
    "not": Not,
}
CONDITION_TAG = "\u00b7"  # marks a condition kind in an error's path; the validator drops it


def _condition_kind(value: Any) -> str | None:
    """Which kind a condition is, from its one distinguishing key (or its class)."""
    if isinstance(value, dict):
        kinds = [key for key in CONDITION_KINDS if key in value]
        return CONDITION_TAG + kinds[0] if len(kinds) == 1 else None
    for key, kind in CONDITION_KINDS.items():
        if isinstance(value, kind):
            return CONDITION_TAG + key
    return None


Condition = Annotated[
    Annotated[Comparison, Tag(CONDITION_TAG + "attribute")]
    | Annotated[DaysBetween, Tag(CONDITION_TAG + "days_between")]
    | Annotated[CumulativeDays, Tag(CONDITION_TAG + "cumulative_days")]
    | Annotated[Count, Tag(CONDITION_TAG + "count")]
    | Annotated[Absent, Tag(CONDITION_TAG + "absent")]
    | Annotated[AllOf, Tag(CONDITION_TAG + "all")]
    | Annotated[AnyOf, Tag(CONDITION_TAG + "any")]
    | Annotated[Not, Tag(CONDITION_TAG + "not")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition_kind",
        custom_error_message="a condition has exactly one of: " + ", ".join(CONDITION_KINDS),
    ),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()
