"""The rule engine: derive outcome claims from a participant's history. Pure: no I/O, no clock.

Derivation is a function of (the contract's rule-book versions, the participant's history).
The history is ordered by ``occurred_on`` then ``event_id``, so the order in which events
arrived never changes the result. Claims, what-if replays and an auditor's independent
recomputation all call :func:`derive_claims`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.money import exact_minor
from shared.rules.attributes import typed_value
from shared.rules.model import AllOf, AnyOf, Comparison, Condition, Outcome, RuleBook


@dataclass(frozen=True)
class RecordedEvent:
    event_id: str
    type: str
    occurred_on: dt.date
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleBookVersion:
    version: int
    rulebook: RuleBook


@dataclass(frozen=True)
class DerivedClaim:
    claim_key: str
    outcome_id: str
    occurred_on: dt.date
    amount_minor: int
    currency: str
    contract_version: int
    trigger_event_id: str
    source_event_ids: tuple[str, ...]
    tier: str | None
    trace: Mapping[str, Any]

    def fingerprint(self) -> tuple[Any, ...]:
        """What makes two derivations the same claim."""
        return (
            self.claim_key,
            self.outcome_id,
            self.occurred_on,
            self.amount_minor,
            self.currency,
            self.contract_version,
            self.trigger_event_id,
            self.source_event_ids,
            self.tier,
        )


def history_order(history: Sequence[RecordedEvent]) -> list[RecordedEvent]:
    return sorted(history, key=lambda e: (e.occurred_on, e.event_id))


def version_in_effect(versions: Sequence[RuleBookVersion], on: dt.date) -> RuleBookVersion | None:
    """The newest version whose effective date is on or before ``on``."""
    current = None
    for candidate in sorted(versions, key=lambda v: v.version):
        if candidate.rulebook.effective_from <= on:
            current = candidate
    return current


def derive_claims(
    versions: Sequence[RuleBookVersion], history: Sequence[RecordedEvent]
) -> list[DerivedClaim]:
    ordered = history_order(history)
    claims: list[DerivedClaim] = []
    claimed_outcomes: set[str] = set()
    for trigger in ordered:
        in_effect = version_in_effect(versions, trigger.occurred_on)
        if in_effect is None:
            continue
        for outcome in in_effect.rulebook.outcomes:
            if outcome.trigger != trigger.type:
                continue
            if outcome.once_per_participant and outcome.id in claimed_outcomes:
                continue
            claim = _evaluate(in_effect, outcome, trigger, ordered)
            if claim is not None:
                claims.append(claim)
                claimed_outcomes.add(outcome.id)
    return claims


def _evaluate(
    in_effect: RuleBookVersion,
    outcome: Outcome,
    trigger: RecordedEvent,
    history: Sequence[RecordedEvent],
) -> DerivedClaim | None:
    scope: dict[str, RecordedEvent] = {"trigger": trigger}
    for requirement in outcome.requires:
        latest = None
        for candidate in history:
            if candidate.event_id == trigger.event_id or candidate.type != requirement.event:
                continue
            days_before = (trigger.occurred_on - candidate.occurred_on).days
            if days_before < requirement.min_days_before:
                continue
            if (
                requirement.max_days_before is not None
                and days_before > requirement.max_days_before
            ):
                continue
            latest = candidate
        if latest is None:
            return None
        scope[requirement.name] = latest
    book = in_effect.rulebook
    if not all(_holds(book, scope, condition) for condition in outcome.conditions):
        return None
    tier = next((t for t in outcome.price_tiers if _holds(book, scope, t.when)), None)
    tariff = tier.price if tier is not None else outcome.price
    if tariff is None:
        return None
    sources = tuple(sorted({e.event_id for e in scope.values()}))
    return DerivedClaim(
        claim_key=outcome.id
        if outcome.once_per_participant
        else f"{outcome.id}:{trigger.event_id}",
        outcome_id=outcome.id,
        occurred_on=trigger.occurred_on,
        amount_minor=exact_minor(tariff, book.currency),
        currency=book.currency,
        contract_version=in_effect.version,
        trigger_event_id=trigger.event_id,
        source_event_ids=sources,
        tier=tier.id if tier is not None else None,
        trace={
            "contract_version": in_effect.version,
            "outcome_id": outcome.id,
            "tariff": tariff,
            "tier": tier.id if tier is not None else None,
            "rounding": book.rounding.value,
            "events": {name: event.event_id for name, event in sorted(scope.items())},
        },
    )


def _holds(book: RuleBook, scope: Mapping[str, RecordedEvent], condition: Condition) -> bool:
    if isinstance(condition, AllOf):
        return all(_holds(book, scope, part) for part in condition.all)
    if isinstance(condition, AnyOf):
        return any(_holds(book, scope, part) for part in condition.any)
    return _compare(book, scope, condition)


def _compare(book: RuleBook, scope: Mapping[str, RecordedEvent], condition: Comparison) -> bool:
    alias, name = condition.attribute.split(".", 1)
    event = scope[alias]
    spec = book.event_types[event.type].attributes[name]
    actual = typed_value(spec, event.attributes.get(name))
    if condition.op in ("in", "not_in"):
        expected_values = [typed_value(spec, v) for v in condition.value or []]  # type: ignore[union-attr]
        found = actual in expected_values
        return found if condition.op == "in" else not found
    expected = typed_value(spec, condition.value)
    if condition.op == "==":
        return bool(actual == expected)
    if condition.op == "!=":
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    return _ordered(condition.op, actual, expected)


def _ordered(op: str, actual: Any, expected: Any) -> bool:
    if isinstance(actual, Decimal) or isinstance(expected, Decimal):
        actual, expected = Decimal(str(actual)), Decimal(str(expected))
    if op == "<":
        return bool(actual < expected)
    if op == "<=":
        return bool(actual <= expected)
    if op == ">":
        return bool(actual > expected)
    return bool(actual >= expected)
