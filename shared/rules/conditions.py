"""Evaluating conditions against a subject's events. Pure: no I/O, no clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.rules.attributes import typed_value
from shared.rules.model import (
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    CumulativeDays,
    DaysBetween,
    Not,
    RuleBook,
)


@dataclass(frozen=True)
class RecordedEvent:
    event_id: str
    type: str
    occurred_on: dt.date
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """What a condition can see: named events, the whole history, and the date it is judged on."""

    book: RuleBook
    bound: Mapping[str, RecordedEvent]
    history: Sequence[RecordedEvent]
    as_of: dt.date


def holds(context: Context, condition: Condition) -> bool:
    if isinstance(condition, AllOf):
        return all(holds(context, part) for part in condition.all)
    if isinstance(condition, AnyOf):
        return any(holds(context, part) for part in condition.any)
    if isinstance(condition, Not):
        return not holds(context, condition.not_)
    if isinstance(condition, DaysBetween):
        spec = condition.days_between
        start, end = context.bound.get(spec.start), context.bound.get(spec.end)
        if start is None or end is None:
            return False
        return compare(spec.op, (end.occurred_on - start.occurred_on).days, spec.value)
    if isinstance(condition, CumulativeDays):
        spec_c = condition.cumulative_days
        total = cumulative_days(context.history, spec_c.start, spec_c.stop, context.as_of)
        return compare(spec_c.op, total, spec_c.value)
    return _comparison_holds(context, condition)


def cumulative_days(history: Sequence[RecordedEvent], start: str, stop: str, as_of: dt.date) -> int:
    """Days inside start→stop spells up to ``as_of``; a start during a spell does not restart it."""
    total = 0
    spell_from: dt.date | None = None
    for event in history:
        if event.occurred_on > as_of:
            break
        if event.type == start and spell_from is None:
            spell_from = event.occurred_on
        elif event.type == stop and spell_from is not None:
            total += (event.occurred_on - spell_from).days
            spell_from = None
    if spell_from is not None:
        total += (as_of - spell_from).days
    return total


def _comparison_holds(context: Context, condition: Comparison) -> bool:
    name, attribute = condition.attribute.split(".", 1)
    event = context.bound.get(name)
    if event is None:
        return False
    spec = context.book.event_types[event.type].attributes[attribute]
    actual = typed_value(spec, event.attributes.get(attribute))
    if condition.op in ("in", "not_in"):
        options = condition.value if isinstance(condition.value, list) else []
        found = actual in [typed_value(spec, v) for v in options]
        return found if condition.op == "in" else not found
    expected = typed_value(spec, condition.value)
    if condition.op in ("==", "!="):
        return (actual == expected) == (condition.op == "==")
    if actual is None or expected is None:
        return False
    return compare(condition.op, actual, expected)


def compare(op: str, actual: Any, expected: Any) -> bool:
    if isinstance(actual, Decimal) or isinstance(expected, Decimal):
        actual, expected = Decimal(str(actual)), Decimal(str(expected))
    if op == "==":
        return bool(actual == expected)
    if op == "!=":
        return bool(actual != expected)
    if op == "<":
        return bool(actual < expected)
    if op == "<=":
        return bool(actual <= expected)
    if op == ">":
        return bool(actual > expected)
    return bool(actual >= expected)
