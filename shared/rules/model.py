"""The rule-book document: a contract's events, outcomes, prices, caps and KPIs, as data.

A rule book is pure data (JSON, or YAML read as JSON): nothing in it is evaluated as code. This
module is its schema; :mod:`shared.rules.validation` checks its meaning and
:func:`parse_rulebook` does both, reporting every problem with the path of the field at fault.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from shared.money import Rounding
from shared.rules.condition_types import (
    CONDITION_KINDS,
    CONDITION_TAG,
    AbsenceSpec,
    Absent,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    Count,
    CountSpec,
    CumulativeDays,
    CumulativeDaysSpec,
    DaysBetween,
    DaysBetweenSpec,
    Not,
    Window,
)
from shared.rules.measures import Indicator, PointsBand, PopulationSpec, Score
from shared.rules.reporting_types import (
    Cap,
    ConversionScore,
    Kpi,
    Reporting,
    TargetSeries,
    TargetValues,
)
from shared.rules.vocabulary import (
    MAX_COUNT,
    MAX_DAYS,
    MAX_ITEMS,
    MAX_STRING_LENGTH,
    NAME_PATTERN,
    PARTICIPANT,
    AttributeReference,
    Calendar,
    DecimalText,
    Name,
    Percentage,
    Period,
    PublicId,
    Strict,
    unset,
)

RULEBOOK_FORMAT: Literal[1] = 1

__all__ = [  # the document's types, wherever they are defined
    "CONDITION_KINDS",
    "CONDITION_TAG",
    "MAX_COUNT",
    "MAX_DAYS",
    "MAX_ITEMS",
    "MAX_STRING_LENGTH",
    "NAME_PATTERN",
    "PARTICIPANT",
    "POPULATION",
    "POPULATION_ATTRIBUTES",
    "SCORE",
    "AbsenceSpec",
    "Absent",
    "AllOf",
    "AnyOf",
    "AttributeSpec",
    "AttributeType",
    "Calendar",
    "Cap",
    "Comparison",
    "Condition",
    "ConversionScore",
    "Count",
    "CountSpec",
    "CumulativeDays",
    "CumulativeDaysSpec",
    "DaysBetween",
    "DaysBetweenSpec",
    "Eligibility",
    "EventTypeSpec",
    "Indicator",
    "Kpi",
    "Not",
    "Outcome",
    "Period",
    "PointsBand",
    "PopulationSpec",
    "PriceTier",
    "Reporting",
    "Requirement",
    "RuleBook",
    "RuleBookInvalid",
    "Score",
    "TargetSeries",
    "TargetValues",
    "Window",
    "parse_rulebook",
]


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


POPULATION = "population"  # the name conditions use for a population outcome's figures
SCORE = "score"  # the name conditions use for the contract's scores
POPULATION_ATTRIBUTES = {
    "members": AttributeSpec(type=AttributeType.INTEGER, required=True, minimum=0),
    "met": AttributeSpec(type=AttributeType.INTEGER, required=True, minimum=0),
    "share": AttributeSpec(type=AttributeType.DECIMAL, required=True, minimum=0, maximum=100),
    "average": AttributeSpec(type=AttributeType.DECIMAL),
}


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
    trigger: Name | None = Field(
        default=None, exclude_if=unset, description="The event that achieves it"
    )
    population: PopulationSpec | None = Field(
        default=None, exclude_if=unset, description="Instead of a trigger: a group in a period"
    )
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
        exclude_if=unset,
        max_length=5,
        description="Numeric attributes the tariff is multiplied by (effect x cohort size)",
    )
    minimum_amount: DecimalText | None = Field(
        default=None, exclude_if=unset, description="A floor on the amount (before rounding)"
    )
    maximum_amount: DecimalText | None = Field(
        default=None, exclude_if=unset, description="A ceiling on the amount (before rounding)"
    )
    scaled_by_score: Name | None = Field(
        default=None,
        exclude_if=unset,
        description="Multiply the amount by this score's points over its maximum",
    )
    rounding: Rounding | None = Field(
        default=None, exclude_if=unset, description="Overrides the contract's rounding rule"
    )
    rounding_unit: DecimalText | None = Field(
        default=None, exclude_if=unset, description="Overrides the contract's rounding unit"
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
        exclude_if=unset,
        description="Amounts are rounded to a multiple of this [the currency's minor unit]",
    )
    effective_from: dt.date
    contract_end: dt.date | None = Field(
        default=None, description="Triggers dated after it derive no claims"
    )
    calendar: Calendar | None = Field(default=None, exclude_if=unset)
    providers: list[Provider] = Field(min_length=1, max_length=MAX_ITEMS)
    event_types: dict[Name, EventTypeSpec] = Field(min_length=1, max_length=MAX_ITEMS)
    eligibility: Eligibility | None = None
    scores: dict[Name, Score] | None = Field(default=None, exclude_if=unset, max_length=50)
    entity_eligibility: dict[Name, Eligibility] | None = Field(
        default=None, exclude_if=unset, max_length=MAX_ITEMS
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

    def attribute_spec(self, event_type: str, attribute: str) -> AttributeSpec | None:
        """An event type's attribute, or a population figure (``population.share``)."""
        if event_type == POPULATION:
            return POPULATION_ATTRIBUTES.get(attribute)
        if event_type == SCORE:
            known = attribute in (self.scores or {})
            return AttributeSpec(type=AttributeType.DECIMAL, required=True) if known else None
        spec = self.event_types.get(event_type)
        return spec.attributes.get(attribute) if spec is not None else None

    def population_outcomes(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.population is not None]

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
