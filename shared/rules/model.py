"""The rule-book document: a contract's events, outcomes, prices, caps and KPIs, as data.

A rule book is pure data (JSON, or YAML read as JSON): nothing in it is evaluated as code. This
module is its schema; :mod:`shared.rules.validation` checks its meaning and
:func:`parse_rulebook` does both, reporting every problem with the path of the field at fault.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from shared.identifiers import PUBLIC_ID_PATTERN
from shared.money import Rounding

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
PARTICIPANT = "participant"
MAX_DAYS = 36_500
MAX_ITEMS = 200
MAX_STRING_LENGTH = 500
MAX_COUNT = 10_000
RULEBOOK_FORMAT: Literal[1] = 1

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
AttributeReference = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$")]
PublicId = Annotated[str, Field(pattern=PUBLIC_ID_PATTERN)]
DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,10})?$")]
Percentage = Annotated[str, Field(pattern=r"^[0-9]{1,3}(\.[0-9]{1,6})?$")]
PeriodLabel = Annotated[str, Field(pattern=r"^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$")]


def _unset(value: object) -> bool:
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


# ---- event types -------------------------------------------------------------------------
class AttributeType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    BOOLEAN = "boolean"
    ENUM = "enum"


class AttributeSpec(Strict):
    type: AttributeType
    required: bool = False
    description: str = Field(default="", max_length=MAX_STRING_LENGTH)
    values: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=MAX_ITEMS
    )
    max_length: int = Field(default=200, ge=1, le=MAX_STRING_LENGTH)
    minimum: int | DecimalText | None = None
    maximum: int | DecimalText | None = None
    personal: bool = Field(default=False, description="Personal data: minimised, encrypted at rest")
    flag: Literal["need", "barrier"] | None = Field(
        default=None, description="Reports split outcomes by this attribute (creaming shows)"
    )


class EventTypeSpec(Strict):
    description: str = Field(default="", max_length=MAX_STRING_LENGTH)
    subject: Name = Field(
        default=PARTICIPANT, description="Whom the event is about: a participant, or an entity"
    )
    attributes: dict[Name, AttributeSpec] = Field(default_factory=dict, max_length=MAX_ITEMS)
    recorded_by: Literal["provider", "evaluator"] = Field(
        default="provider",
        exclude_if=lambda value: value == "provider",
        description="Who posts it: the provider, or an evaluator (an evaluation result about a "
        "cohort, one per cohort, changed only by a correction)",
    )


class Provider(Strict):
    id: PublicId
    name: str = Field(min_length=1, max_length=200)


# ---- conditions ----------------------------------------------------------------------------
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


# ---- outcomes ------------------------------------------------------------------------------
class Requirement(Strict):
    """An earlier event the subject must have, within a window before the trigger."""

    event: Name
    alias: Name | None = Field(default=None, description="Name to refer to it; default: event")
    min_days_before: int = Field(default=0, ge=0, le=MAX_DAYS)
    max_days_before: int | None = Field(default=None, ge=0, le=MAX_DAYS)
    pick: Literal["latest", "earliest"] = "latest"

    @property
    def name(self) -> str:
        return self.alias or self.event


class PriceTier(Strict):
    """The first tier whose ``when`` holds sets the tariff, or a percentage of the base."""

    id: Name
    when: Condition
    price: DecimalText | None = None
    percentage: Percentage | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PriceTier:
        if (self.price is None) == (self.percentage is None):
            raise ValueError("a tier sets exactly one of price or percentage")
        return self


class MultiplierRef(Strict):
    table: Name
    attribute: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$")


class MultiplierTable(Strict):
    values: dict[Annotated[str, Field(min_length=1, max_length=64)], DecimalText] = Field(
        min_length=1, max_length=1000
    )
    default: DecimalText | None = None


class Outcome(Strict):
    id: Name
    name: str = Field(default="", max_length=200)
    trigger: Name
    requires: list[Requirement] = Field(default_factory=list, max_length=20)
    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_ITEMS)
    max_per_participant: int | None = Field(
        default=1, ge=1, le=10_000, description="null: no limit"
    )
    per_period: Period | None = Field(
        default=None, description="With it, max_per_participant applies within each period"
    )
    price: DecimalText | None = None
    base: Name | None = Field(default=None, description="A named base amount instead of a price")
    percentage: Percentage = "100"
    multiplier: MultiplierRef | None = None
    price_tiers: list[PriceTier] = Field(default_factory=list, max_length=MAX_ITEMS)
    otherwise: Literal["base", "nothing"] = Field(
        default="base", description="When no tier matches: pay the base, or claim nothing"
    )
    evidence: list[Name] = Field(default_factory=list, max_length=20)
    price_per: list[AttributeReference] | None = Field(
        default=None,
        exclude_if=_unset,
        max_length=5,
        description="Numeric attributes the tariff is multiplied by (effect x cohort size)",
    )
    minimum_amount: DecimalText | None = Field(
        default=None, exclude_if=_unset, description="A floor on the amount (before rounding)"
    )
    maximum_amount: DecimalText | None = Field(
        default=None, exclude_if=_unset, description="A ceiling on the amount (before rounding)"
    )
    rounding: Rounding | None = Field(
        default=None, exclude_if=_unset, description="Overrides the contract's rounding rule"
    )
    rounding_unit: DecimalText | None = Field(
        default=None, exclude_if=_unset, description="Overrides the contract's rounding unit"
    )


# ---- caps, targets, KPIs ---------------------------------------------------------------------
class Cap(Strict):
    id: Name
    scope: Literal["contract", "outcome", "period", "participant"]
    amount: DecimalText
    outcome: Name | None = None
    period: Period | None = None


class TargetSeries(Strict):
    id: Name
    name: str = Field(min_length=1, max_length=200)
    stage: Name = Field(description="The event type counted (participants reaching it)")
    period: Period
    values: dict[PeriodLabel, int] = Field(min_length=1, max_length=1000)


class Kpi(Strict):
    """Share of subjects whose ``end`` event came within N days of their ``start`` event."""

    id: Name
    name: str = Field(min_length=1, max_length=200)
    start: Name
    end: Name
    within_days: int = Field(ge=0, le=MAX_DAYS)
    period: Period = Period.MONTH
    minimum_level: Percentage | None = Field(default=None, description="Below: minor failure")
    lower_level: Percentage | None = Field(default=None, description="Below: major failure")


class ConversionScore(Strict):
    """Share of participants who reached ``start`` that went on to reach ``end``."""

    start: Name
    end: Name


class Reporting(Strict):
    """How performance reports slice the participants (all optional; defaults in brackets)."""

    site_attribute: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$",
        description="event_type.attribute naming a participant's site, from its first such "
        "event [no sites]",
    )
    cohort_stage: Name | None = Field(
        default=None,
        description="A participant's cohort is the month it first reached this stage "
        "[the first participant event type]",
    )
    contact_events: list[Name] | None = Field(
        default=None, max_length=MAX_ITEMS, description="What counts as contact [every type]"
    )
    closed_stages: list[Name] | None = Field(
        default=None,
        max_length=MAX_ITEMS,
        description="Participants who reached one need no more contact [the last stage]",
    )
    score: ConversionScore | None = Field(
        default=None, description="Providers are ranked on it [first stage to last stage]"
    )
    budget: DecimalText | None = Field(
        default=None, description="The money reports compare with it [the contract cap]"
    )


DEFAULT_REASON_CODES = (
    "evidence_missing",
    "evidence_invalid",
    "ineligible",
    "duplicate",
    "form_defect",
    "other",
)


class Verification(Strict):
    """How claims are verified, and the deadlines around it."""

    mode: Literal["manual", "automatic", "sampled"] = "manual"
    sample_percent: Percentage | None = Field(
        default=None, description="sampled mode: the share of claims sent to manual review"
    )
    decision_days: int = Field(
        default=30, ge=1, le=MAX_DAYS, description="to decide a submitted claim"
    )
    dispute_window_days: int = Field(
        default=14, ge=0, le=MAX_DAYS, description="to dispute a rejection"
    )
    dispute_decision_days: int = Field(
        default=30, ge=1, le=MAX_DAYS, description="to decide a dispute"
    )
    reason_codes: list[Name] = Field(
        default_factory=lambda: list(DEFAULT_REASON_CODES), min_length=1, max_length=50
    )


class Eligibility(Strict):
    """Conditions on the subject's first event of each named type; all must hold.

    ``eligibility`` judges participants; ``entity_eligibility`` judges each entity kind (a
    hospital, a school) on its own events. A subject is never judged by another kind's rules."""

    conditions: list[Condition] = Field(min_length=1, max_length=MAX_ITEMS)


class RuleBook(Strict):
    format: Literal[1] = RULEBOOK_FORMAT
    contract_id: PublicId
    name: str = Field(min_length=1, max_length=200)
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    rounding: Rounding = Rounding.HALF_UP
    rounding_unit: DecimalText | None = Field(
        default=None,
        exclude_if=_unset,
        description="Amounts are rounded to a multiple of this [the currency's minor unit]",
    )
    effective_from: dt.date
    contract_end: dt.date | None = Field(
        default=None, description="Triggers dated after it derive no claims"
    )
    calendar: Calendar | None = Field(default=None, exclude_if=_unset)
    providers: list[Provider] = Field(min_length=1, max_length=MAX_ITEMS)
    event_types: dict[Name, EventTypeSpec] = Field(min_length=1, max_length=MAX_ITEMS)
    eligibility: Eligibility | None = None
    entity_eligibility: dict[Name, Eligibility] | None = Field(
        default=None, exclude_if=_unset, max_length=MAX_ITEMS
    )
    base_amounts: dict[Name, DecimalText] = Field(default_factory=dict, max_length=MAX_ITEMS)
    multiplier_tables: dict[Name, MultiplierTable] = Field(default_factory=dict, max_length=50)
    evidence_types: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS)
    verification: Verification = Field(default_factory=Verification)
    outcomes: list[Outcome] = Field(default_factory=list, max_length=MAX_ITEMS)
    caps: list[Cap] = Field(default_factory=list, max_length=MAX_ITEMS)
    targets: list[TargetSeries] = Field(default_factory=list, max_length=MAX_ITEMS)
    kpis: list[Kpi] = Field(default_factory=list, max_length=MAX_ITEMS)
    reporting: Reporting = Field(default_factory=Reporting)

    def provider_ids(self) -> set[str]:
        return {p.id for p in self.providers}

    def eligibility_for(self, subject: str) -> Eligibility | None:
        """The eligibility rules of one kind of subject (a participant, or an entity kind)."""
        if subject == PARTICIPANT:
            return self.eligibility
        return (self.entity_eligibility or {}).get(subject)

    @property
    def year_starts(self) -> int:
        """The month the contract's reporting year starts (1 unless its calendar says)."""
        return self.calendar.year_starts if self.calendar is not None else 1

    def subject_of(self, event_type: str) -> str | None:
        spec = self.event_types.get(event_type)
        return spec.subject if spec is not None else None

    def stages(self) -> list[str]:
        """The participant funnel: event types about participants, in the rule book's order."""
        return [name for name, spec in self.event_types.items() if spec.subject == PARTICIPANT]

    def canonical(self) -> dict[str, Any]:
        """The document as stored and published: plain JSON, defaults filled in."""
        return self.model_dump(mode="json", by_alias=True)


def parse_rulebook(document: Any) -> RuleBook:
    """Validate a rule-book document, reporting every structural and semantic problem."""
    from shared.rules.validation import validate_rulebook

    return validate_rulebook(document)


class RuleBookInvalid(ValueError):
    def __init__(self, problems: list[Any]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems
