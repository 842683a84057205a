"""Evaluating conditions against a subject's events. Pure: no I/O, no clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.rules.attributes import typed_value
from shared.rules.model import (
    Absent,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    Count,
    CumulativeDays,
    DaysBetween,
    Not,
    Period,
    RuleBook,
    Window,
)

COUNTED = "event"  # the name a count's ``where`` gives each counted event


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
    if isinstance(condition, Count):
        spec_n = condition.count
        found = counted(context, spec_n.event, spec_n.where, spec_n.window, spec_n.distinct)
        return found is not None and compare(spec_n.op, found, spec_n.value)
    if isinstance(condition, Absent):
        spec_a = condition.absent
        return counted(context, spec_a.event, spec_a.where, spec_a.window, None) == 0
    return _comparison_holds(context, condition)


def counted(
    context: Context,
    event_type: str,
    where: Sequence[Comparison],
    window: Window,
    distinct: Period | None,
) -> int | None:
    """How many of the subject's events of a type (that meet ``where``) lie in the window
    around its anchor; with ``distinct``, how many periods hold one. None: no anchor."""
    anchor = context.bound.get(window.anchor)
    if anchor is None:
        return None
    year_starts = context.book.year_starts
    first, last = window_days(window, anchor.occurred_on, year_starts)
    matching = [
        event
        for event in context.history
        if event.type == event_type
        and event.event_id != anchor.event_id
        and (first is None or first <= event.occurred_on)
        and event.occurred_on <= last
        and all(
            _comparison_holds(Context(context.book, {COUNTED: event}, (), context.as_of), part)
            for part in where
        )
    ]
    if distinct is not None:
        return len({distinct.label(event.occurred_on, year_starts) for event in matching})
    return len(matching)


def window_days(
    window: Window, anchor_on: dt.date, year_starts: int = 1
) -> tuple[dt.date | None, dt.date]:
    """The first and last day (both inclusive) of a window; None: no first day."""
    if window.period is not None:
        return window.period.bounds(anchor_on, year_starts)
    if window.days_before is None and window.days_after is None:
        return None, anchor_on
    first = anchor_on - dt.timedelta(days=window.days_before or 0)
    return first, anchor_on + dt.timedelta(days=window.days_after or 0)


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
    spec = context.book.attribute_spec(event.type, attribute)
    assert spec is not None, "validation guarantees every attribute a condition names"
    actual = typed_value(spec, event.attributes.get(attribute))
    if condition.op in ("in", "not_in"):
        options = condition.value if isinstance(condition.value, list) else []
        found = actual in [typed_value(spec, v) for v in options]
        return found if condition.op == "in" else not found
    expected = typed_value(spec, condition.value)
    if condition.op in ("==", "!="):
        return bool(actual == expected) == (condition.op == "==")
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
