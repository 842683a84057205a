"""Composite scores: a weighted sum of indicator points, each scored in bands. Pure.

A score is evaluated in an outcome's context, like a condition: its indicators name the
outcome's events (``trigger.hand_hygiene_percent``) or other scores. An indicator with no value
earns no points.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from shared.rules.attributes import typed_value
from shared.rules.conditions import Context, RecordedEvent
from shared.rules.model import SCORE, Indicator, RuleBook


def score_points(book: RuleBook, score_id: str, context: Context) -> Decimal:
    """The score's points in this context (validation guarantees no cycles)."""
    return score_trace(book, score_id, context)[0]


def score_trace(
    book: RuleBook, score_id: str, context: Context
) -> tuple[Decimal, list[dict[str, Any]]]:
    score = (book.scores or {})[score_id]
    total, lines = Decimal(0), []
    for indicator in score.indicators:
        value, points = _indicator_points(book, indicator, context)
        weighted = points * Decimal(indicator.weight)
        total += weighted
        lines.append(
            {
                "indicator": indicator.id,
                "value": None if value is None else str(value),
                "points": str(points),
                "weight": indicator.weight,
            }
        )
    return total, lines


def _indicator_points(
    book: RuleBook, indicator: Indicator, context: Context
) -> tuple[Decimal | None, Decimal]:
    if indicator.score is not None:
        points = score_points(book, indicator.score, context)
        return points, points
    assert indicator.attribute is not None
    name, attribute = indicator.attribute.split(".", 1)
    event = context.bound.get(name)
    spec = book.attribute_spec(event.type, attribute) if event is not None else None
    raw = event.attributes.get(attribute) if event is not None else None
    value = typed_value(spec, raw) if spec is not None else None
    if value is None:
        return None, Decimal(0)
    number = Decimal(str(value))
    for band in indicator.bands:
        if band.at_least is not None and number >= Decimal(band.at_least):
            return number, Decimal(band.points)
        if band.at_most is not None and number <= Decimal(band.at_most):
            return number, Decimal(band.points)
    return number, Decimal(0)


class _Points(Mapping[str, str]):
    """The contract's scores in a context, each computed the first time a condition reads it
    (most outcomes read none, and computing every score for every trigger would be waste)."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._known: dict[str, str] = {}

    def __getitem__(self, score_id: str) -> str:
        if score_id not in self._known:
            if score_id not in (self._context.book.scores or {}):
                raise KeyError(score_id)
            points = score_points(self._context.book, score_id, self._context)
            self._known[score_id] = str(points)
        return self._known[score_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._context.book.scores or {})

    def __len__(self) -> int:
        return len(self._context.book.scores or {})


def with_scores(context: Context) -> Context:
    """The context with every score bound as ``score.<id>`` (when the contract has scores)."""
    book = context.book
    if not book.scores:
        return context
    scores = RecordedEvent(SCORE, SCORE, context.as_of, _Points(context))
    return Context(book, {**context.bound, SCORE: scores}, context.history, context.as_of)
