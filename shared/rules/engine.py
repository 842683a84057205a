"""The rule engine: derive outcome claims from a subject's history. Pure: no I/O, no clock.

Derivation is a function of (the contract's rule-book versions, the subject's history). The
history is de-duplicated by event id and ordered by ``occurred_on`` then ``event_id``, so neither
arrival order nor duplicate delivery changes the result. Claims, what-if replays and an
auditor's independent recomputation all call :func:`derive`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.money import minor_unit, to_minor
from shared.rules.conditions import Context, RecordedEvent, holds
from shared.rules.model import Outcome, PriceTier, RuleBook
from shared.rules.scores import score_trace, with_scores

__all__ = [
    "Derivation",
    "DerivedClaim",
    "RecordedEvent",
    "RuleBookVersion",
    "derive",
    "derive_claims",
    "history_order",
    "settle",
    "version_in_effect",
]

HUNDRED = Decimal(100)


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
    evidence_required: tuple[str, ...] = ()

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


@dataclass(frozen=True)
class Derivation:
    claims: list[DerivedClaim]
    eligible: bool
    ineligible_reasons: list[str] = field(default_factory=list)


def history_order(history: Sequence[RecordedEvent]) -> list[RecordedEvent]:
    """Sorted by (occurred_on, event_id), one entry per event id."""
    unique: dict[str, RecordedEvent] = {}
    for event in sorted(history, key=lambda e: (e.occurred_on, e.event_id)):
        unique.setdefault(event.event_id, event)
    return list(unique.values())


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
    return derive(versions, history).claims


def derive(versions: Sequence[RuleBookVersion], history: Sequence[RecordedEvent]) -> Derivation:
    ordered = history_order(history)
    claims: list[DerivedClaim] = []
    counts: dict[str, int] = {}
    for trigger in ordered:
        in_effect = version_in_effect(versions, trigger.occurred_on)
        if in_effect is None or _after_contract(in_effect.rulebook, trigger.occurred_on):
            continue
        subject = in_effect.rulebook.subject_of(trigger.type)
        if not _eligible(in_effect.rulebook, subject, ordered, trigger.occurred_on)[0]:
            continue
        for outcome in in_effect.rulebook.outcomes:
            if outcome.trigger != trigger.type:
                continue
            limit_key = _limit_key(in_effect.rulebook, outcome, trigger)
            if (
                outcome.max_per_participant is not None
                and counts.get(limit_key, 0) >= outcome.max_per_participant
            ):
                continue
            claim = _evaluate(in_effect, outcome, trigger, ordered)
            if claim is not None:
                claims.append(claim)
                counts[limit_key] = counts.get(limit_key, 0) + 1
    eligible, reasons = _current_eligibility(versions, ordered)
    return Derivation(claims, eligible, reasons)


def _current_eligibility(
    versions: Sequence[RuleBookVersion], ordered: list[RecordedEvent]
) -> tuple[bool, list[str]]:
    if not ordered:
        return True, []
    in_effect = version_in_effect(versions, ordered[-1].occurred_on)
    if in_effect is None:
        return False, ["no contract version was in effect on the participant's latest event"]
    subject = in_effect.rulebook.subject_of(ordered[-1].type)
    return _eligible(in_effect.rulebook, subject, ordered, ordered[-1].occurred_on)


def _eligible(
    book: RuleBook, subject: str | None, ordered: list[RecordedEvent], as_of: dt.date
) -> tuple[bool, list[str]]:
    """Eligibility is judged on the subject's first event of each type, by the rules of its
    own kind (a hospital is never judged by the participants' eligibility)."""
    eligibility = book.eligibility_for(subject) if subject is not None else None
    if eligibility is None:
        return True, []
    first: dict[str, RecordedEvent] = {}
    for event in ordered:
        first.setdefault(event.type, event)
    context = Context(book, first, ordered, as_of)
    reasons = [
        f"condition {index} does not hold"
        for index, condition in enumerate(eligibility.conditions)
        if not holds(context, condition)
    ]
    return not reasons, reasons


def _after_contract(book: RuleBook, on: dt.date) -> bool:
    return book.contract_end is not None and on > book.contract_end


def _limit_key(book: RuleBook, outcome: Outcome, trigger: RecordedEvent) -> str:
    if outcome.per_period is None:
        return outcome.id
    return f"{outcome.id}@{outcome.per_period.label(trigger.occurred_on, book.year_starts)}"


def _claim_key(book: RuleBook, outcome: Outcome, trigger: RecordedEvent) -> str:
    if outcome.max_per_participant == 1:
        return _limit_key(book, outcome, trigger)
    return f"{outcome.id}:{trigger.event_id}"


def _bind(
    outcome: Outcome, trigger: RecordedEvent, history: Sequence[RecordedEvent]
) -> dict[str, RecordedEvent] | None:
    bound: dict[str, RecordedEvent] = {"trigger": trigger}
    for requirement in outcome.requires:
        candidates = [
            candidate
            for candidate in history
            if candidate.event_id != trigger.event_id
            and candidate.type == requirement.event
            and requirement.min_days_before
            <= (trigger.occurred_on - candidate.occurred_on).days
            <= (requirement.max_days_before if requirement.max_days_before is not None else 10**9)
        ]
        if not candidates:
            return None
        bound[requirement.name] = candidates[-1] if requirement.pick == "latest" else candidates[0]
    return bound


def _evaluate(
    in_effect: RuleBookVersion,
    outcome: Outcome,
    trigger: RecordedEvent,
    history: Sequence[RecordedEvent],
) -> DerivedClaim | None:
    bound = _bind(outcome, trigger, history)
    if bound is None:
        return None
    book = in_effect.rulebook
    settled = settle(outcome, Context(book, bound, history, trigger.occurred_on))
    if settled is None:
        return None
    tier, pricing = settled
    return DerivedClaim(
        claim_key=_claim_key(book, outcome, trigger),
        outcome_id=outcome.id,
        occurred_on=trigger.occurred_on,
        amount_minor=pricing["amount_minor"],
        currency=book.currency,
        contract_version=in_effect.version,
        trigger_event_id=trigger.event_id,
        source_event_ids=tuple(sorted({e.event_id for e in bound.values()})),
        tier=tier.id if tier is not None else None,
        evidence_required=tuple(outcome.evidence),
        trace={
            "contract_version": in_effect.version,
            "outcome_id": outcome.id,
            "events": {name: event.event_id for name, event in sorted(bound.items())},
            **pricing,
        },
    )


def settle(outcome: Outcome, context: Context) -> tuple[PriceTier | None, dict[str, Any]] | None:
    """Whether the outcome's conditions hold in the context and, if so, its tier and price."""
    context = with_scores(context)
    if not all(holds(context, condition) for condition in outcome.conditions):
        return None
    tier = next((t for t in outcome.price_tiers if holds(context, t.when)), None)
    if tier is None and outcome.price_tiers and outcome.otherwise == "nothing":
        return None
    pricing = _price(context, outcome, tier)
    if outcome.price_per and pricing["amount_minor"] <= 0:
        return None  # an effect of zero or below earns nothing (and owes nothing)
    return tier, pricing


def _price(context: Context, outcome: Outcome, tier: PriceTier | None) -> dict[str, Any]:
    """Tariff times percentage times multiplier, rounded once by the contract's rule."""
    book, bound = context.book, context.bound
    if tier is not None and tier.price is not None:
        tariff, source = tier.price, f"tier {tier.id}"
    elif outcome.base is not None:
        tariff, source = book.base_amounts[outcome.base], f"base {outcome.base}"
    else:
        assert outcome.price is not None
        tariff, source = outcome.price, "price"
    percentage = (
        tier.percentage if tier is not None and tier.percentage is not None else outcome.percentage
    )
    factor, multiplier_trace = _multiplier(book, outcome, bound)
    per_unit, per_unit_trace = _per_unit(book, outcome, bound)
    scale, scale_trace = _score_scale(context, outcome)
    computed = Decimal(tariff) * Decimal(percentage) / HUNDRED * factor * per_unit * scale
    unrounded, limit = _within_limits(outcome, computed)
    rounding = outcome.rounding or book.rounding
    unit_text = outcome.rounding_unit or book.rounding_unit
    unit = Decimal(unit_text) if unit_text is not None else minor_unit(book.currency)
    return {
        "tariff": tariff,
        "tariff_source": source,
        "percentage": percentage,
        "multiplier": multiplier_trace,
        **({"per_unit": per_unit_trace} if per_unit_trace else {}),
        **({"scaled_by_score": scale_trace} if scale_trace else {}),
        **({"limited": {"computed": str(computed), "by": limit}} if limit else {}),
        "unrounded": str(unrounded),
        "rounding": rounding.value,
        "rounding_unit": str(unit),
        "tier": tier.id if tier is not None else None,
        "amount_minor": to_minor(unrounded, book.currency, rounding, unit),
    }


def _per_unit(
    book: RuleBook, outcome: Outcome, bound: Mapping[str, RecordedEvent]
) -> tuple[Decimal, list[dict[str, str]]]:
    """The product of the attributes the tariff is priced per (validated: numeric, required)."""
    product, trace = Decimal(1), []
    for reference in outcome.price_per or []:
        name, attribute = reference.split(".", 1)
        value = Decimal(str(bound[name].attributes[attribute]))
        product *= value
        trace.append({"attribute": reference, "value": str(value)})
    return product, trace


def _score_scale(context: Context, outcome: Outcome) -> tuple[Decimal, dict[str, Any] | None]:
    """The score's points over its maximum, when the outcome is scaled by a score."""
    if outcome.scaled_by_score is None:
        return Decimal(1), None
    book = context.book
    points, lines = score_trace(book, outcome.scaled_by_score, context)
    out_of = (book.scores or {})[outcome.scaled_by_score].out_of
    trace = {"score": outcome.scaled_by_score, "points": str(points), "out_of": out_of}
    return points / Decimal(out_of), {**trace, "indicators": lines}


def _within_limits(outcome: Outcome, amount: Decimal) -> tuple[Decimal, str | None]:
    """The amount held between the outcome's floor and ceiling, and which one applied."""
    if outcome.minimum_amount is not None and amount < Decimal(outcome.minimum_amount):
        return Decimal(outcome.minimum_amount), "minimum_amount"
    if outcome.maximum_amount is not None and amount > Decimal(outcome.maximum_amount):
        return Decimal(outcome.maximum_amount), "maximum_amount"
    return amount, None


def _multiplier(
    book: RuleBook, outcome: Outcome, bound: Mapping[str, RecordedEvent]
) -> tuple[Decimal, dict[str, str] | None]:
    reference = outcome.multiplier
    if reference is None:
        return Decimal(1), None
    table = book.multiplier_tables[reference.table]
    name, attribute = reference.attribute.split(".", 1)
    key = str(bound[name].attributes.get(attribute, ""))
    factor = table.values.get(key, table.default)
    assert factor is not None, "validation guarantees a multiplier or a default"
    return Decimal(factor), {"table": reference.table, "key": key, "factor": factor}
