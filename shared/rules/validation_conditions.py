"""Validation of conditions: names in scope, attribute types and values, counts and absences.

A condition is checked against a scope: the names it may use (``trigger``, a requirement's
alias, or in eligibility the subject's event types), each bound to an event type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from shared.errors import FieldProblem
from shared.money import MoneyError, parse_decimal
from shared.rules.conditions import COUNTED
from shared.rules.model import (
    Absent,
    AllOf,
    AnyOf,
    AttributeSpec,
    AttributeType,
    Comparison,
    Condition,
    Count,
    CumulativeDays,
    DaysBetween,
    Not,
    Period,
    RuleBook,
)

Scope = dict[str, str]


def attribute_spec(book: RuleBook, scope: Scope, reference: str) -> AttributeSpec | str:
    name, attribute_name = reference.split(".", 1)
    if name not in scope:
        return f"unknown name {name!r}; known: {', '.join(sorted(scope))}"
    event_type = scope[name]
    spec = book.attribute_spec(event_type, attribute_name)
    if spec is None:
        return f"event type {event_type!r} has no attribute {attribute_name!r}"
    if spec.personal:
        return (
            f"{event_type}.{attribute_name} is personal, so it cannot decide a payment: claims "
            "must stay recomputable from the feed and survive erasure of personal data; record "
            "a non-personal attribute for the rule instead (e.g. an age band)"
        )
    return spec


def condition_problems(
    book: RuleBook, scope: Scope, path: str, condition: Condition
) -> Iterator[FieldProblem]:
    if isinstance(condition, AllOf | AnyOf):
        parts, key = (
            (condition.all, "all") if isinstance(condition, AllOf) else (condition.any, "any")
        )
        for index, part in enumerate(parts):
            yield from condition_problems(book, scope, f"{path}.{key}.{index}", part)
    elif isinstance(condition, Not):
        yield from condition_problems(book, scope, f"{path}.not", condition.not_)
    elif isinstance(condition, DaysBetween):
        for field in ("start", "end"):
            name = getattr(condition.days_between, field)
            if name not in scope:
                yield FieldProblem(
                    f"{path}.days_between.{field}",
                    f"unknown name {name!r}; known: {', '.join(sorted(scope))}",
                )
    elif isinstance(condition, Count | Absent):
        yield from count_problems(book, scope, path, condition)
    elif isinstance(condition, CumulativeDays):
        for field in ("start", "stop"):
            name = getattr(condition.cumulative_days, field)
            if name not in book.event_types:
                yield FieldProblem(
                    f"{path}.cumulative_days.{field}", f"undefined event type {name!r}"
                )
    else:
        spec = attribute_spec(book, scope, condition.attribute)
        if isinstance(spec, str):
            yield FieldProblem(f"{path}.attribute", spec)
        else:
            yield from _value_problems(path, spec, condition)


def count_problems(
    book: RuleBook, scope: Scope, path: str, condition: Count | Absent
) -> Iterator[FieldProblem]:
    key = "count" if isinstance(condition, Count) else "absent"
    spec = condition.count if isinstance(condition, Count) else condition.absent
    where = f"{path}.{key}"
    counted = book.event_types.get(spec.event)
    subjects = {book.event_types[t].subject for t in scope.values() if t in book.event_types}
    if counted is None:
        yield FieldProblem(f"{where}.event", f"undefined event type {spec.event!r}")
    elif subjects and counted.subject not in subjects:
        yield FieldProblem(
            f"{where}.event",
            f"{spec.event!r} is about a {counted.subject!r}, so it is never in the history of "
            f"the subject judged here (a {'/'.join(sorted(subjects))})",
        )
    window = spec.window
    if window.anchor not in scope:
        yield FieldProblem(
            f"{where}.window.anchor",
            f"unknown name {window.anchor!r}; known: {', '.join(sorted(scope))}",
        )
    days = window.days_before is not None or window.days_after is not None
    if window.period is not None and days:
        yield FieldProblem(f"{where}.window", "set a period or days around the anchor, not both")
    if counted is not None:
        for index, part in enumerate(spec.where):
            yield from condition_problems(
                book, {COUNTED: spec.event}, f"{where}.where.{index}", part
            )
    if isinstance(condition, Count):
        most = _most_counted(condition)
        op, value = condition.count.op, condition.count.value
        if (
            (op == "<" and value == 0)
            or (most is not None and op in (">=", "==") and value > most)
            or (most is not None and op == ">" and value >= most)
        ):
            yield FieldProblem(f"{where}.value", "can never hold: " + _why_never(condition, most))


def _most_counted(condition: Count) -> int | None:
    """The most a count can reach whatever the history, where the window bounds it."""
    spec = condition.count
    if spec.distinct is None:
        return None
    window = spec.window
    if window.period is not None:
        return _periods_within(spec.distinct, window.period)
    if window.days_before is None and window.days_after is None:
        return None
    days = (window.days_before or 0) + (window.days_after or 0) + 1
    per_period = {"month": 28, "quarter": 90, "year": 365}[spec.distinct.value]
    return -(-(days - 1) // per_period) + 1 if days > 1 else 1


def _periods_within(distinct: Period, period: Period) -> int:
    return max(1, period.months // distinct.months)


def _why_never(condition: Count, most: int | None) -> str:
    spec = condition.count
    if most is None:
        return "a count is never below 0"
    return (
        f"the window holds at most {most} distinct {spec.distinct}(s), "
        f"so the count is never {spec.op} {spec.value}"
    )


def _value_problems(
    path: str, spec: AttributeSpec, condition: Comparison
) -> Iterator[FieldProblem]:
    is_list = isinstance(condition.value, list)
    if condition.op in ("in", "not_in") and not is_list:
        yield FieldProblem(f"{path}.value", f"{condition.op} needs a list of values")
        return
    if condition.op not in ("in", "not_in") and is_list:
        yield FieldProblem(f"{path}.value", f"{condition.op} needs a single value")
        return
    if condition.op in ("<", "<=", ">", ">=") and spec.type in (
        AttributeType.BOOLEAN,
        AttributeType.ENUM,
    ):
        yield FieldProblem(
            f"{path}.op", f"{condition.op} does not apply to a {spec.type} attribute"
        )
    values = condition.value if isinstance(condition.value, list) else [condition.value]
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
    if kind is AttributeType.DECIMAL:
        if isinstance(value, bool) or not isinstance(value, int | str):
            return "expected a decimal written as a string"
        try:
            parse_decimal(str(value))
        except MoneyError as exc:
            return str(exc)
    if kind is AttributeType.STRING and not isinstance(value, str):
        return "expected a string"
    return None
