"""The rule-book document: a contract's events, outcomes and prices, as validated data.

A rule book is pure data (JSON, or YAML turned into JSON): nothing in it is evaluated as code.
:func:`parse_rulebook` checks the structure with pydantic and then the meaning (references to
event types, attributes and aliases; value types in conditions) and reports *every* problem with
the path of the field at fault, so nothing half-valid is ever registered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import FieldProblem
from shared.identifiers import PUBLIC_ID_PATTERN
from shared.money import MINOR_UNIT_EXPONENTS, MoneyError, Rounding, exact_minor

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
CORE_EVENT_TYPES = ("referral", "enrollment", "job_start", "job_sustained")
MAX_DAYS = 36_500
MAX_ITEMS = 200
MAX_STRING_LENGTH = 500

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
PublicId = Annotated[str, Field(pattern=PUBLIC_ID_PATTERN)]
DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,10})?$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class EventTypeSpec(Strict):
    description: str = Field(default="", max_length=MAX_STRING_LENGTH)
    attributes: dict[Name, AttributeSpec] = Field(default_factory=dict, max_length=MAX_ITEMS)


class Provider(Strict):
    id: PublicId
    name: str = Field(min_length=1, max_length=200)


ComparisonOp = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in"]


class Comparison(Strict):
    attribute: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$",
        description="`trigger.<attribute>` or `<requirement alias>.<attribute>`",
    )
    op: ComparisonOp
    value: int | bool | str | list[int | str] | None


class AllOf(Strict):
    all: list[Condition] = Field(min_length=1, max_length=MAX_ITEMS)


class AnyOf(Strict):
    any: list[Condition] = Field(min_length=1, max_length=MAX_ITEMS)


Condition = Comparison | AllOf | AnyOf
AllOf.model_rebuild()
AnyOf.model_rebuild()


class Requirement(Strict):
    """An earlier event the participant must have, within a window before the trigger."""

    event: Name
    alias: Name | None = Field(default=None, description="Name to refer to it; default: event")
    min_days_before: int = Field(default=0, ge=0, le=MAX_DAYS)
    max_days_before: int | None = Field(default=None, ge=0, le=MAX_DAYS)

    @property
    def name(self) -> str:
        return self.alias or self.event


class PriceTier(Strict):
    id: Name
    when: Condition
    price: DecimalText


class Outcome(Strict):
    id: Name
    name: str = Field(default="", max_length=200)
    trigger: Name
    requires: list[Requirement] = Field(default_factory=list, max_length=20)
    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_ITEMS)
    once_per_participant: bool = True
    price: DecimalText | None = None
    price_tiers: list[PriceTier] = Field(default_factory=list, max_length=MAX_ITEMS)


class RuleBook(Strict):
    contract_id: PublicId
    name: str = Field(min_length=1, max_length=200)
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    rounding: Rounding = Rounding.HALF_UP
    effective_from: dt.date
    providers: list[Provider] = Field(min_length=1, max_length=MAX_ITEMS)
    event_types: dict[Name, EventTypeSpec] = Field(min_length=1, max_length=MAX_ITEMS)
    outcomes: list[Outcome] = Field(default_factory=list, max_length=MAX_ITEMS)

    def provider_ids(self) -> set[str]:
        return {p.id for p in self.providers}

    def canonical(self) -> dict[str, Any]:
        """The document as stored and published: plain JSON, defaults filled in."""
        return self.model_dump(mode="json")


class RuleBookInvalid(ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


def parse_rulebook(document: Any) -> RuleBook:
    """Validate a rule-book document, reporting every structural and semantic problem."""
    try:
        rulebook = RuleBook.model_validate(document)
    except ValidationError as exc:
        raise RuleBookInvalid(
            [
                FieldProblem(".".join(str(p) for p in err["loc"]) or "document", err["msg"])
                for err in exc.errors()
            ]
        ) from None
    problems = list(_semantic_problems(rulebook))
    if problems:
        raise RuleBookInvalid(problems)
    return rulebook


def _semantic_problems(book: RuleBook) -> Iterator[FieldProblem]:
    if book.currency not in MINOR_UNIT_EXPONENTS:
        supported = ", ".join(sorted(MINOR_UNIT_EXPONENTS))
        yield FieldProblem("currency", f"unsupported currency; supported: {supported}")
        return
    if len(book.provider_ids()) != len(book.providers):
        yield FieldProblem("providers", "provider ids must be unique")
    for name, spec in book.event_types.items():
        yield from _attribute_problems(f"event_types.{name}", spec)
    seen: set[str] = set()
    for index, outcome in enumerate(book.outcomes):
        path = f"outcomes.{index}"
        if outcome.id in seen:
            yield FieldProblem(f"{path}.id", f"duplicate outcome id {outcome.id!r}")
        seen.add(outcome.id)
        yield from _outcome_problems(book, path, outcome)


def _attribute_problems(path: str, spec: EventTypeSpec) -> Iterator[FieldProblem]:
    for name, attribute in spec.attributes.items():
        where = f"{path}.attributes.{name}"
        if attribute.type is AttributeType.ENUM and not attribute.values:
            yield FieldProblem(f"{where}.values", "an enum attribute needs its values")
        if attribute.type is not AttributeType.ENUM and attribute.values is not None:
            yield FieldProblem(f"{where}.values", "only enum attributes take values")
        bounded = (AttributeType.INTEGER, AttributeType.DECIMAL)
        has_bounds = attribute.minimum is not None or attribute.maximum is not None
        if has_bounds and attribute.type not in bounded:
            yield FieldProblem(where, "only integer and decimal attributes take minimum/maximum")
        if (
            attribute.minimum is not None
            and attribute.maximum is not None
            and Decimal(str(attribute.minimum)) > Decimal(str(attribute.maximum))
        ):
            yield FieldProblem(where, "minimum exceeds maximum")


def _outcome_problems(book: RuleBook, path: str, outcome: Outcome) -> Iterator[FieldProblem]:
    if outcome.trigger not in book.event_types:
        yield FieldProblem(f"{path}.trigger", f"undefined event type {outcome.trigger!r}")
        return
    scope: dict[str, str] = {"trigger": outcome.trigger}
    for r_index, requirement in enumerate(outcome.requires):
        where = f"{path}.requires.{r_index}"
        if requirement.event not in book.event_types:
            yield FieldProblem(f"{where}.event", f"undefined event type {requirement.event!r}")
            continue
        if requirement.name in scope:
            yield FieldProblem(where, f"name {requirement.name!r} is used twice; set an alias")
        scope[requirement.name] = requirement.event
        maximum = requirement.max_days_before
        if maximum is not None and maximum < requirement.min_days_before:
            yield FieldProblem(where, "max_days_before is less than min_days_before")
    for c_index, condition in enumerate(outcome.conditions):
        yield from _condition_problems(book, scope, f"{path}.conditions.{c_index}", condition)
    for t_index, tier in enumerate(outcome.price_tiers):
        where = f"{path}.price_tiers.{t_index}"
        yield from _condition_problems(book, scope, f"{where}.when", tier.when)
        yield from _price_problems(book, f"{where}.price", tier.price)
    if outcome.price is None and not outcome.price_tiers:
        yield FieldProblem(f"{path}.price", "an outcome needs a price or price tiers")
    if outcome.price is not None:
        yield from _price_problems(book, f"{path}.price", outcome.price)


def _price_problems(book: RuleBook, path: str, price: str) -> Iterator[FieldProblem]:
    try:
        amount_minor = exact_minor(price, book.currency)
    except MoneyError as exc:
        yield FieldProblem(path, str(exc))
        return
    if amount_minor < 0:
        yield FieldProblem(path, "a price cannot be negative")


def _condition_problems(
    book: RuleBook, scope: dict[str, str], path: str, condition: Condition
) -> Iterator[FieldProblem]:
    if isinstance(condition, AllOf | AnyOf):
        parts = condition.all if isinstance(condition, AllOf) else condition.any
        key = "all" if isinstance(condition, AllOf) else "any"
        for index, part in enumerate(parts):
            yield from _condition_problems(book, scope, f"{path}.{key}.{index}", part)
        return
    alias, attribute_name = condition.attribute.split(".", 1)
    if alias not in scope:
        known = ", ".join(sorted(scope))
        yield FieldProblem(f"{path}.attribute", f"unknown name {alias!r}; known: {known}")
        return
    event_type = scope[alias]
    spec = book.event_types[event_type].attributes.get(attribute_name)
    if spec is None:
        yield FieldProblem(
            f"{path}.attribute", f"event type {event_type!r} has no attribute {attribute_name!r}"
        )
        return
    yield from _value_problems(path, spec, condition)


def _value_problems(
    path: str, spec: AttributeSpec, condition: Comparison
) -> Iterator[FieldProblem]:
    values = condition.value if isinstance(condition.value, list) else [condition.value]
    if condition.op in ("in", "not_in") and not isinstance(condition.value, list):
        yield FieldProblem(f"{path}.value", f"{condition.op} needs a list of values")
        return
    if condition.op not in ("in", "not_in") and isinstance(condition.value, list):
        yield FieldProblem(f"{path}.value", f"{condition.op} needs a single value")
        return
    ordered = ("<", "<=", ">", ">=")
    if condition.op in ordered and spec.type in (AttributeType.BOOLEAN, AttributeType.ENUM):
        yield FieldProblem(
            f"{path}.op", f"{condition.op} does not apply to a {spec.type} attribute"
        )
    for value in values:
        message = _value_type_problem(spec, value)
        if message:
            yield FieldProblem(f"{path}.value", message)


def _value_type_problem(spec: AttributeSpec, value: Any) -> str | None:
    kind = spec.type
    if value is None:
        return None
    if kind is AttributeType.INTEGER and (isinstance(value, bool) or not isinstance(value, int)):
        return "expected an integer"
    if kind is AttributeType.BOOLEAN and not isinstance(value, bool):
        return "expected true or false"
    if kind is AttributeType.ENUM and value not in (spec.values or []):
        return f"{value!r} is not one of the attribute's values"
    if kind is AttributeType.DATE:
        try:
            dt.date.fromisoformat(str(value))
        except ValueError:
            return "expected an ISO date"
    if kind is AttributeType.DECIMAL and not isinstance(value, int | str):
        return "expected a decimal written as a string"
    return None
