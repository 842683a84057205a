"""What a rule book means: references, types, windows, prices, and conditions that can hold.

Every problem is collected (never just the first) with the path of the field at fault, so an
author can fix a document in one pass. Nothing half-valid is ever registered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from shared.errors import FieldProblem
from shared.money import MINOR_UNIT_EXPONENTS, MoneyError, check_rounding_unit, parse_decimal
from shared.rules.model import (
    CONDITION_TAG,
    PARTICIPANT,
    POPULATION,
    SCORE,
    AttributeType,
    Eligibility,
    EventTypeSpec,
    Outcome,
    RuleBook,
    RuleBookInvalid,
)
from shared.rules.satisfiable import can_hold
from shared.rules.validation_conditions import Scope, attribute_spec, condition_problems
from shared.rules.validation_population import population_problems
from shared.rules.validation_reporting import (
    duplicate_ids,
    money_problems,
    reporting_problems,
    target_and_kpi_problems,
)
from shared.rules.validation_scores import score_problems, score_use_problems


def validate_rulebook(document: Any) -> RuleBook:
    try:
        book = RuleBook.model_validate(document)
    except ValidationError as exc:
        raise RuleBookInvalid(
            [FieldProblem(_path(err["loc"]), err["msg"]) for err in exc.errors()]
        ) from None
    problems = list(_problems(book))
    if problems:
        raise RuleBookInvalid(problems)
    return book


def _path(location: tuple[int | str, ...]) -> str:
    """An error's field path, without the tags that name a condition's kind."""
    parts = [str(p) for p in location if not str(p).startswith(CONDITION_TAG)]
    return ".".join(parts) or "document"


def _problems(book: RuleBook) -> Iterator[FieldProblem]:
    if book.currency not in MINOR_UNIT_EXPONENTS:
        supported = ", ".join(sorted(MINOR_UNIT_EXPONENTS))
        yield FieldProblem("currency", f"unsupported currency; supported: {supported}")
    if len(book.provider_ids()) != len(book.providers):
        yield FieldProblem("providers", "provider ids must be unique")
    if book.contract_end is not None and book.contract_end <= book.effective_from:
        yield FieldProblem("contract_end", "the contract must end after it takes effect")
    until = book.calendar.claims_until if book.calendar is not None else None
    if until is not None and until <= book.effective_from:
        yield FieldProblem(
            "calendar.claims_until", "claims must be taken after the contract starts"
        )
    if until is not None and book.contract_end is not None and until < book.contract_end:
        yield FieldProblem(
            "calendar.claims_until",
            "claims stop being taken on or after the contract ends, so its last events count",
        )
    for name, spec in book.event_types.items():
        yield from _attribute_problems(f"event_types.{name}", spec)
    yield from _amount_problems(book)
    yield from _rounding_unit_problems(book, "rounding_unit", book.rounding_unit)
    yield from _eligibility_problems(book)
    seen: set[str] = set()
    for index, outcome in enumerate(book.outcomes):
        if outcome.id in seen:
            yield FieldProblem(f"outcomes.{index}.id", f"duplicate outcome id {outcome.id!r}")
        seen.add(outcome.id)
        yield from _outcome_problems(book, f"outcomes.{index}", outcome)
    yield from score_problems(book)
    yield from _verification_problems(book)
    yield from _cap_problems(book)
    yield from target_and_kpi_problems(book)
    yield from reporting_problems(book)


def _eligibility_problems(book: RuleBook) -> Iterator[FieldProblem]:
    """Each kind of subject is judged only on its own events."""
    entity_kinds = {s.subject for s in book.event_types.values()} - {PARTICIPANT}
    declared: list[tuple[str, str, Eligibility | None]] = [
        ("eligibility", PARTICIPANT, book.eligibility)
    ]
    for kind, eligibility in (book.entity_eligibility or {}).items():
        if kind not in entity_kinds:
            known = ", ".join(sorted(entity_kinds)) or "none"
            yield FieldProblem(
                f"entity_eligibility.{kind}",
                f"no event type is about a {kind!r}; entity kinds: {known}"
                + ("" if kind != PARTICIPANT else " (participants use eligibility)"),
            )
            continue
        declared.append((f"entity_eligibility.{kind}", kind, eligibility))
    for path, kind, declared_eligibility in declared:
        if declared_eligibility is None:
            continue
        scope = {t: t for t, s in book.event_types.items() if s.subject == kind}
        for index, condition in enumerate(declared_eligibility.conditions):
            yield from condition_problems(book, scope, f"{path}.conditions.{index}", condition)


def _attribute_problems(path: str, spec: EventTypeSpec) -> Iterator[FieldProblem]:
    if spec.recorded_by == "evaluator" and spec.subject == PARTICIPANT:
        yield FieldProblem(
            f"{path}.subject",
            "an evaluation result is about a cohort, not a participant: name the subject "
            "(e.g. subject: cohort)",
        )
    for name, attribute in spec.attributes.items():
        where = f"{path}.attributes.{name}"
        if attribute.type is AttributeType.ENUM and not attribute.values:
            yield FieldProblem(f"{where}.values", "an enum attribute needs its values")
        if attribute.type is not AttributeType.ENUM and attribute.values is not None:
            yield FieldProblem(f"{where}.values", "only enum attributes take values")
        if attribute.values is not None and len(set(attribute.values)) != len(attribute.values):
            yield FieldProblem(f"{where}.values", "values must be unique")
        has_bounds = attribute.minimum is not None or attribute.maximum is not None
        if has_bounds and attribute.type not in (AttributeType.INTEGER, AttributeType.DECIMAL):
            yield FieldProblem(where, "only integer and decimal attributes take minimum/maximum")
        low, high = attribute.minimum, attribute.maximum
        if low is not None and high is not None and Decimal(str(low)) > Decimal(str(high)):
            yield FieldProblem(where, "minimum exceeds maximum")
        if attribute.personal and attribute.flag is not None:
            message = "a personal attribute cannot be a report flag: reports never read it"
            yield FieldProblem(f"{where}.flag", message)


def _rounding_unit_problems(book: RuleBook, path: str, unit: str | None) -> Iterator[FieldProblem]:
    if unit is None or book.currency not in MINOR_UNIT_EXPONENTS:
        return
    try:
        check_rounding_unit(parse_decimal(unit), book.currency)
    except MoneyError as exc:
        yield FieldProblem(path, str(exc))


def _amount_problems(book: RuleBook) -> Iterator[FieldProblem]:
    for name, amount in book.base_amounts.items():
        yield from money_problems(book, f"base_amounts.{name}", amount)
    for name, table in book.multiplier_tables.items():
        for key, factor in table.values.items():
            if Decimal(factor) < 0:
                yield FieldProblem(f"multiplier_tables.{name}.values.{key}", "cannot be negative")
        if table.default is not None and Decimal(table.default) < 0:
            yield FieldProblem(f"multiplier_tables.{name}.default", "cannot be negative")


# ---- outcomes --------------------------------------------------------------------------------
def _outcome_problems(book: RuleBook, path: str, outcome: Outcome) -> Iterator[FieldProblem]:
    if (outcome.trigger is None) == (outcome.population is None):
        yield FieldProblem(f"{path}.trigger", "an outcome has a trigger or a population (one)")
        return
    if outcome.population is not None:
        yield from population_problems(book, path, outcome)
        scope: Scope = {POPULATION: POPULATION}
    else:
        found = list(_trigger_problems(book, path, outcome))
        yield from found
        if any(p.field == f"{path}.trigger" for p in found):
            return
        scope = {"trigger": str(outcome.trigger)}
        scope.update({r.name: r.event for r in outcome.requires})
    yield from score_use_problems(book, dict(scope), path, outcome)
    if book.scores:
        scope[SCORE] = SCORE
    for c_index, condition in enumerate(outcome.conditions):
        where = f"{path}.conditions.{c_index}"
        yield from condition_problems(book, scope, where, condition)
        if not can_hold(book, scope, condition):
            yield FieldProblem(where, "this condition can never hold")
    yield from _price_problems(book, scope, path, outcome)
    for e_index, evidence in enumerate(outcome.evidence):
        if evidence not in book.evidence_types:
            yield FieldProblem(
                f"{path}.evidence.{e_index}", f"undefined evidence type {evidence!r}"
            )


def _trigger_problems(book: RuleBook, path: str, outcome: Outcome) -> Iterator[FieldProblem]:
    trigger = book.event_types.get(str(outcome.trigger))
    if trigger is None:
        yield FieldProblem(f"{path}.trigger", f"undefined event type {outcome.trigger!r}")
        return
    names = {"trigger"}
    for r_index, requirement in enumerate(outcome.requires):
        where = f"{path}.requires.{r_index}"
        required = book.event_types.get(requirement.event)
        if required is None:
            yield FieldProblem(f"{where}.event", f"undefined event type {requirement.event!r}")
            continue
        if required.subject != trigger.subject:
            yield FieldProblem(
                f"{where}.event", "a required event must be about the trigger's subject"
            )
        if requirement.name in names:
            yield FieldProblem(where, f"name {requirement.name!r} is used twice; set an alias")
        names.add(requirement.name)
        maximum = requirement.max_days_before
        if maximum is not None and maximum < requirement.min_days_before:
            yield FieldProblem(where, "max_days_before is less than min_days_before")


def _price_problems(
    book: RuleBook, scope: Scope, path: str, outcome: Outcome
) -> Iterator[FieldProblem]:
    yield from _rounding_unit_problems(book, f"{path}.rounding_unit", outcome.rounding_unit)
    if outcome.price is not None and outcome.base is not None:
        yield FieldProblem(f"{path}.base", "set a price or a base, not both")
    if outcome.base is not None and outcome.base not in book.base_amounts:
        yield FieldProblem(f"{path}.base", f"undefined base amount {outcome.base!r}")
    if outcome.price is not None:
        yield from money_problems(book, f"{path}.price", outcome.price)
    has_base = outcome.price is not None or outcome.base is not None
    if not has_base and not all(t.price is not None for t in outcome.price_tiers):
        yield FieldProblem(f"{path}.price", "percentages need a price or a base to apply to")
    if not has_base and outcome.otherwise == "base":
        yield FieldProblem(f"{path}.otherwise", "with no price or base, set otherwise: nothing")
    yield from _tier_problems(book, scope, path, outcome)
    yield from _per_unit_problems(book, scope, path, outcome)
    if outcome.multiplier is not None:
        yield from _multiplier_problems(book, scope, f"{path}.multiplier", outcome)


def _per_unit_problems(
    book: RuleBook, scope: Scope, path: str, outcome: Outcome
) -> Iterator[FieldProblem]:
    for index, reference in enumerate(outcome.price_per or []):
        spec = attribute_spec(book, scope, reference)
        where = f"{path}.price_per.{index}"
        if isinstance(spec, str):
            yield FieldProblem(where, spec)
        elif spec.type not in (AttributeType.INTEGER, AttributeType.DECIMAL):
            yield FieldProblem(where, "a price is multiplied only by an integer or decimal")
        elif not spec.required:
            yield FieldProblem(where, "the attribute must be required: every claim needs it")
    for name in ("minimum_amount", "maximum_amount"):
        amount = getattr(outcome, name)
        if amount is not None:
            yield from money_problems(book, f"{path}.{name}", amount)
    low, high = outcome.minimum_amount, outcome.maximum_amount
    if low is not None and high is not None and Decimal(low) > Decimal(high):
        yield FieldProblem(f"{path}.minimum_amount", "the floor is above the ceiling")


def _tier_problems(
    book: RuleBook, scope: Scope, path: str, outcome: Outcome
) -> Iterator[FieldProblem]:
    earlier: dict[str, str] = {}
    for index, tier in enumerate(outcome.price_tiers):
        where = f"{path}.price_tiers.{index}"
        problems = list(condition_problems(book, scope, f"{where}.when", tier.when))
        yield from problems
        if tier.price is not None:
            yield from money_problems(book, f"{where}.price", tier.price)
        key = json.dumps(tier.when.model_dump(mode="json", by_alias=True), sort_keys=True)
        if key in earlier:
            yield FieldProblem(
                f"{where}.when", f"can never match: tier {earlier[key]!r} has the same condition"
            )
        elif not problems and not can_hold(book, scope, tier.when):
            yield FieldProblem(
                f"{where}.when",
                "can never match: its conditions contradict each other or the attribute's range",
            )
        earlier.setdefault(key, tier.id)


def _multiplier_problems(
    book: RuleBook, scope: Scope, path: str, outcome: Outcome
) -> Iterator[FieldProblem]:
    reference = outcome.multiplier
    assert reference is not None
    table = book.multiplier_tables.get(reference.table)
    if table is None:
        yield FieldProblem(f"{path}.table", f"undefined multiplier table {reference.table!r}")
        return
    spec = attribute_spec(book, scope, reference.attribute)
    if isinstance(spec, str):
        yield FieldProblem(f"{path}.attribute", spec)
        return
    if not spec.required and table.default is None:
        yield FieldProblem(
            f"{path}.attribute", "the attribute is optional, so the table needs a default"
        )
    if spec.type is AttributeType.ENUM:
        missing = sorted(set(spec.values or []) - set(table.values))
        if missing and table.default is None:
            yield FieldProblem(
                f"multiplier_tables.{reference.table}.values",
                f"no multiplier for {', '.join(missing)} (allowed by {reference.attribute})"
                " and no default",
            )
    elif spec.type is not AttributeType.STRING:
        yield FieldProblem(
            f"{path}.attribute", "a multiplier is looked up by an enum or string attribute"
        )
    elif table.default is None:
        yield FieldProblem(
            f"multiplier_tables.{reference.table}.default",
            "a table keyed by a free string needs a default",
        )


def _verification_problems(book: RuleBook) -> Iterator[FieldProblem]:
    verification = book.verification
    if verification.mode == "sampled" and verification.sample_percent is None:
        yield FieldProblem("verification.sample_percent", "sampled verification needs a percentage")
    if verification.mode != "sampled" and verification.sample_percent is not None:
        yield FieldProblem(
            "verification.sample_percent", "only sampled verification takes a percentage"
        )
    if verification.sample_percent is not None and Decimal(verification.sample_percent) > 100:
        yield FieldProblem("verification.sample_percent", "a percentage is at most 100")
    if len(set(verification.reason_codes)) != len(verification.reason_codes):
        yield FieldProblem("verification.reason_codes", "reason codes must be unique")


# ---- caps, targets, KPIs -----------------------------------------------------------------------
def _cap_problems(book: RuleBook) -> Iterator[FieldProblem]:
    outcome_ids = {o.id for o in book.outcomes}
    yield from duplicate_ids([cap.id for cap in book.caps], "caps", "cap")
    for index, cap in enumerate(book.caps):
        path = f"caps.{index}"
        yield from money_problems(book, f"{path}.amount", cap.amount)
        if cap.scope == "outcome" and cap.outcome not in outcome_ids:
            yield FieldProblem(f"{path}.outcome", "an outcome cap names a defined outcome")
        if cap.scope != "outcome" and cap.outcome is not None:
            yield FieldProblem(f"{path}.outcome", "only outcome caps name an outcome")
        if (cap.scope == "period") != (cap.period is not None):
            yield FieldProblem(f"{path}.period", "period caps, and only they, name a period")
