"""Validation of composite scores: indicators, bands, maxima, cycles, and where they are used."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from shared.errors import FieldProblem
from shared.money import MoneyError, parse_decimal
from shared.rules.model import (
    SCORE,
    AllOf,
    AnyOf,
    AttributeType,
    Comparison,
    Condition,
    Not,
    Outcome,
    RuleBook,
    Score,
)
from shared.rules.validation_conditions import Scope, attribute_spec


def score_problems(book: RuleBook) -> Iterator[FieldProblem]:
    scores = book.scores or {}
    for score_id, score in scores.items():
        yield from _one_score(book, f"scores.{score_id}", score)
    for score_id in scores:
        cycle = _cycle(book, score_id, [])
        if cycle is not None:
            yield FieldProblem(f"scores.{cycle[0]}", "circular: " + " -> ".join([*cycle, cycle[0]]))
            break  # one report per cycle is enough to fix it


def _one_score(book: RuleBook, path: str, score: Score) -> Iterator[FieldProblem]:
    scores = book.scores or {}
    most, seen = Decimal(0), set()
    for index, indicator in enumerate(score.indicators):
        where = f"{path}.indicators.{index}"
        if indicator.id in seen:
            yield FieldProblem(f"{where}.id", f"duplicate indicator id {indicator.id!r}")
        seen.add(indicator.id)
        weight = _number(indicator.weight)
        if weight is None or weight < 0:
            yield FieldProblem(f"{where}.weight", "a weight is a number of at least 0")
            weight = Decimal(0)
        if (indicator.attribute is None) == (indicator.score is None):
            yield FieldProblem(where, "an indicator has exactly one of attribute or score")
        elif indicator.score is not None:
            if indicator.score not in scores:
                yield FieldProblem(f"{where}.score", f"undefined score {indicator.score!r}")
            elif indicator.bands:
                yield FieldProblem(f"{where}.bands", "another score's points take no bands")
            else:
                most += weight * (_number(scores[indicator.score].out_of) or Decimal(0))
        elif not indicator.bands:
            yield FieldProblem(f"{where}.bands", "an attribute is scored in bands")
        else:
            most += weight * max(band.points for band in indicator.bands)
    out_of = _number(score.out_of)
    if out_of is None or out_of <= 0:
        yield FieldProblem(f"{path}.out_of", "the maximum must be above 0")
    elif most > out_of:
        yield FieldProblem(
            f"{path}.out_of", f"the indicators can earn up to {most}, more than out_of {out_of}"
        )


def _cycle(book: RuleBook, score_id: str, path: list[str]) -> list[str] | None:
    if score_id in path:
        return path[path.index(score_id) :]
    score = (book.scores or {}).get(score_id)
    for indicator in score.indicators if score is not None else []:
        if indicator.score is not None:
            found = _cycle(book, indicator.score, [*path, score_id])
            if found is not None:
                return found
    return None


def _number(text: str) -> Decimal | None:
    try:
        return parse_decimal(text)
    except MoneyError:
        return None


# ---- where an outcome uses scores ---------------------------------------------------------------
def score_use_problems(
    book: RuleBook, scope: Scope, path: str, outcome: Outcome
) -> Iterator[FieldProblem]:
    """Every score an outcome reads must be computable from the events it binds."""
    used = dict.fromkeys(_scores_read(outcome))
    if outcome.scaled_by_score is not None:
        if outcome.scaled_by_score not in (book.scores or {}):
            yield FieldProblem(
                f"{path}.scaled_by_score", f"undefined score {outcome.scaled_by_score!r}"
            )
        else:
            used[outcome.scaled_by_score] = None
    for score_id in used:
        for reference in sorted(_references(book, score_id, set())):
            spec = attribute_spec(book, scope, reference)
            if isinstance(spec, str):
                yield FieldProblem(path, f"score {score_id!r} reads {reference}: {spec}")
            elif spec.type not in (AttributeType.INTEGER, AttributeType.DECIMAL):
                yield FieldProblem(path, f"score {score_id!r} reads {reference}: not a number")


def _scores_read(outcome: Outcome) -> Iterator[str]:
    conditions = [*outcome.conditions, *(tier.when for tier in outcome.price_tiers)]
    for condition in conditions:
        for comparison in _comparisons(condition):
            name, attribute = comparison.attribute.split(".", 1)
            if name == SCORE:
                yield attribute
    for reference in outcome.price_per or []:
        name, attribute = reference.split(".", 1)
        if name == SCORE:
            yield attribute


def _comparisons(condition: Condition) -> Iterator[Comparison]:
    if isinstance(condition, Comparison):
        yield condition
    elif isinstance(condition, AllOf | AnyOf):
        for part in condition.all if isinstance(condition, AllOf) else condition.any:
            yield from _comparisons(part)
    elif isinstance(condition, Not):
        yield from _comparisons(condition.not_)


def _references(book: RuleBook, score_id: str, seen: set[str]) -> set[str]:
    score = (book.scores or {}).get(score_id)
    if score is None or score_id in seen:
        return set()
    seen.add(score_id)
    found = set()
    for indicator in score.indicators:
        if indicator.attribute is not None:
            found.add(indicator.attribute)
        elif indicator.score is not None:
            found |= _references(book, indicator.score, seen)
    return found
