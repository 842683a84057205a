"""Validation of population outcomes: the group, the members, what counts as met, the average."""

from __future__ import annotations

from collections.abc import Iterator

from shared.errors import FieldProblem
from shared.rules.model import PARTICIPANT, AttributeType, Outcome, RuleBook
from shared.rules.validation_conditions import Scope, attribute_spec, condition_problems


def population_problems(book: RuleBook, path: str, outcome: Outcome) -> Iterator[FieldProblem]:
    population = outcome.population
    assert population is not None
    where = f"{path}.population"
    scope: Scope = {t: t for t, s in book.event_types.items() if s.subject == PARTICIPANT}
    group_type = population.group.split(".", 1)[0]
    if population.by_kind:
        if population.member is None:
            message = f"a population by {population.group} names its member event"
            yield FieldProblem(f"{where}.member", message)
    elif group_type not in scope:
        yield FieldProblem(f"{where}.group", f"{group_type!r} is not a participant event type")
    else:
        spec = attribute_spec(book, scope, population.group)
        if isinstance(spec, str):
            yield FieldProblem(f"{where}.group", spec)
        elif spec.type not in (AttributeType.ENUM, AttributeType.STRING):
            yield FieldProblem(f"{where}.group", "a group is named by an enum or string attribute")
    if (population.member_event not in scope and population.member is not None) or (
        not population.by_provider and population.member_event not in scope
    ):
        yield FieldProblem(
            f"{where}.member", f"{population.member_event!r} is not a participant event type"
        )
    for index, condition in enumerate(population.met):
        yield from condition_problems(book, scope, f"{where}.met.{index}", condition)
    if population.attribute is not None:
        spec = attribute_spec(book, scope, population.attribute)
        if isinstance(spec, str):
            yield FieldProblem(f"{where}.attribute", spec)
        elif spec.type not in (AttributeType.INTEGER, AttributeType.DECIMAL):
            yield FieldProblem(f"{where}.attribute", "an average is of an integer or decimal")
    yield from _unused_parts(path, outcome)


def _unused_parts(path: str, outcome: Outcome) -> Iterator[FieldProblem]:
    """What only a triggered outcome has."""
    if outcome.requires:
        yield FieldProblem(f"{path}.requires", "a population outcome requires no events")
    if outcome.per_period is not None:
        yield FieldProblem(f"{path}.per_period", "a population outcome has its own period")
    if outcome.multiplier is not None:
        yield FieldProblem(
            f"{path}.multiplier", "a population outcome is priced per its figures (price_per)"
        )
    if outcome.max_per_participant != 1:
        yield FieldProblem(
            f"{path}.max_per_participant", "a population pays once per group and period"
        )
