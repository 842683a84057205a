"""Can a condition ever hold? A conservative check used to refuse tiers that never match.

Each comparison narrows the values its attribute can take: an interval for integer and decimal
attributes (starting from the attribute's declared minimum and maximum), a set for enum and
boolean ones. Comparisons joined by ``all`` narrow together. The answer is "never" only when a
set or interval becomes empty; anything this check cannot reason about counts as "can hold".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.rules.model import AllOf, AnyOf, AttributeType, Comparison, Condition, RuleBook

Scope = dict[str, str]


@dataclass(frozen=True)
class Interval:
    low: Decimal | None = None
    low_open: bool = False
    high: Decimal | None = None
    high_open: bool = False

    def narrowed(self, op: str, value: Decimal, integer: bool) -> Interval:
        if integer and op in (">", "<"):
            op, value = (">=", value + 1) if op == ">" else ("<=", value - 1)
        if op == "==":
            return self.narrowed(">=", value, integer).narrowed("<=", value, integer)
        if op in (">", ">="):
            open_ = op == ">"
            if self.low is None or value > self.low or (value == self.low and open_):
                return Interval(value, open_, self.high, self.high_open)
            return self
        if op in ("<", "<="):
            open_ = op == "<"
            if self.high is None or value < self.high or (value == self.high and open_):
                return Interval(self.low, self.low_open, value, open_)
        return self

    @property
    def empty(self) -> bool:
        if self.low is None or self.high is None:
            return False
        return self.low > self.high or (self.low == self.high and (self.low_open or self.high_open))


Domain = Interval | frozenset[object]


def can_hold(book: RuleBook, scope: Scope, condition: Condition) -> bool:
    if isinstance(condition, AnyOf):
        return any(can_hold(book, scope, part) for part in condition.any)
    if isinstance(condition, AllOf):
        domains: dict[str, Domain] = {}
        for part in condition.all:
            if isinstance(part, Comparison):
                narrowed = _narrow(book, scope, part, domains.get(part.attribute))
                if narrowed is None:
                    continue
                if _is_empty(narrowed):
                    return False
                domains[part.attribute] = narrowed
            elif not can_hold(book, scope, part):
                return False
        return True
    if isinstance(condition, Comparison):
        narrowed = _narrow(book, scope, condition, None)
        return narrowed is None or not _is_empty(narrowed)
    return True


def _is_empty(domain: Domain) -> bool:
    return domain.empty if isinstance(domain, Interval) else not domain


def _narrow(
    book: RuleBook, scope: Scope, comparison: Comparison, current: Domain | None
) -> Domain | None:
    name, attribute = comparison.attribute.split(".", 1)
    if name not in scope:
        return None
    spec = book.attribute_spec(scope[name], attribute)
    if spec is None or comparison.value is None:
        return None
    if spec.type in (AttributeType.ENUM, AttributeType.BOOLEAN):
        universe: frozenset[object] = (
            frozenset(spec.values or [])
            if spec.type is AttributeType.ENUM
            else frozenset({True, False})
        )
        start = current if isinstance(current, frozenset) else universe
        values = frozenset(
            comparison.value if isinstance(comparison.value, list) else [comparison.value]
        )
        if comparison.op in ("==", "in"):
            return start & values
        if comparison.op in ("!=", "not_in"):
            return start - values
        return None
    if spec.type not in (AttributeType.INTEGER, AttributeType.DECIMAL):
        return None
    if comparison.op not in ("==", "<", "<=", ">", ">=") or isinstance(
        comparison.value, list | bool
    ):
        return None
    if isinstance(current, Interval):
        interval = current
    else:
        interval = Interval()
        if spec.minimum is not None:
            interval = interval.narrowed(">=", Decimal(str(spec.minimum)), False)
        if spec.maximum is not None:
            interval = interval.narrowed("<=", Decimal(str(spec.maximum)), False)
    integer = spec.type is AttributeType.INTEGER
    return interval.narrowed(comparison.op, Decimal(str(comparison.value)), integer)
