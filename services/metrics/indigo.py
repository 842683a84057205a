"""A contract in the shape of the INDIGO impact-bond data standard's project schema.

INDIGO (the International Network for Data on Impact and Government Outcomes, at Oxford's
Government Outcomes Lab) publishes impact bonds as projects; four of a project's lists are
what this product knows first-hand: ``outcome_metrics`` (what is paid for), ``outcome_pricings``
(at what price), ``results`` (how many engaged, how many achieved each outcome, per period)
and ``outcome_payments`` (what was paid, per outcome, recipient and period). Every value is
wrapped as the standard wraps it (``{"value": …}``); money is a JSON number written with
exactly the digits the ledger holds. Field by field: docs/metrics.md, "INDIGO export".

Pure: it takes the rule books, the stage counts and the money rows; no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.money import minor_unit, to_minor
from shared.periods import Period, label_of, labels_between, month_of, shift
from shared.rules.model import Outcome, RuleBook

VALIDATION_METHOD = "Simple ex-post verification"  # the standard's own words for it
Document = dict[str, Any]


@dataclass(frozen=True)
class OutcomeMoney:
    """Money booked for one outcome, recipient and ledger month (``mx_outcome_money``)."""

    outcome_id: str
    provider_id: str
    booked_period: str
    paid_minor: int
    claims: int  # booked less reversed


@dataclass(frozen=True)
class Version:
    number: int
    rulebook: RuleBook


def value(content: Any) -> dict[str, Any]:
    return {"value": content}


def export(
    versions: Sequence[Version],
    engaged: Mapping[str, int],
    money: Sequence[OutcomeMoney],
    period: Period,
    today: dt.date,
) -> Document:
    """``engaged``: participants first reaching the cohort stage, by month."""
    latest = versions[-1].rulebook
    first = versions[0].rulebook
    year_starts = latest.year_starts
    start = month_of(first.effective_from)
    end_day = min(today, latest.contract_end) if latest.contract_end else today
    first_label = label_of(period, start, year_starts)
    labels = labels_between(period, first_label, label_of(period, month_of(end_day), year_starts))
    ended = latest.contract_end is not None and latest.contract_end < today
    return {
        "contract_id": latest.contract_id,
        "name": value(latest.name),
        "outcome_metrics": [_metric(latest, outcome) for outcome in latest.outcomes],
        "outcome_pricings": [_pricing(versions, outcome) for outcome in latest.outcomes],
        "results": _results(latest, labels, period, engaged, money, ended),
        "outcome_payments": _payments(latest, labels, period, money),
    }


# ---- outcome metrics and their pricing -----------------------------------------------------------
def _metric(rulebook: RuleBook, outcome: Outcome) -> Document:
    if outcome.trigger is not None:
        how = f"a participant's {outcome.trigger} event"
        if outcome.conditions:
            how += f" meeting the rule book's {len(outcome.conditions)} condition(s)"
    else:
        how = "a population meeting the rule book's population rule"
    limit = (
        "no limit per participant"
        if outcome.max_per_participant is None
        else f"at most {outcome.max_per_participant} per participant"
        + (f" a {outcome.per_period.value}" if outcome.per_period else "")
    )
    sources = f"the providers' case-management records of {outcome.trigger or 'events'}"
    if outcome.evidence:
        sources += "; evidence: " + ", ".join(outcome.evidence)
    found: Document = {
        "id": outcome.id,
        "definition": value(f"{outcome.name or outcome.id}: achieved by {how} ({limit})"),
        "outcome_validation_method": value(VALIDATION_METHOD),
        "data_source_for_outcome_validation": value(sources),
        "notes": f"verification: {rulebook.verification.mode}",
    }
    return found


def unit_price(rulebook: RuleBook, outcome: Outcome) -> Decimal | None:
    """The price of one outcome when it is one fixed amount (no tiers, multipliers or
    attributes scaling it); None otherwise (the description then says how it is priced)."""
    if outcome.price_tiers or outcome.multiplier or outcome.price_per or outcome.scaled_by_score:
        return None
    if outcome.price is not None:
        amount = Decimal(outcome.price)
    elif outcome.base is not None and outcome.base in rulebook.base_amounts:
        amount = Decimal(rulebook.base_amounts[outcome.base])
    else:
        return None
    amount = amount * Decimal(outcome.percentage) / 100
    if outcome.minimum_amount is not None:
        amount = max(amount, Decimal(outcome.minimum_amount))
    if outcome.maximum_amount is not None:
        amount = min(amount, Decimal(outcome.maximum_amount))
    rounding = outcome.rounding or rulebook.rounding
    unit = outcome.rounding_unit or rulebook.rounding_unit
    minor = to_minor(amount, rulebook.currency, rounding, Decimal(unit) if unit else None)
    return Decimal(minor) * minor_unit(rulebook.currency)  # as the engine rounds it, once


def _describe_price(rulebook: RuleBook, outcome: Outcome) -> str:
    parts = []
    if outcome.price is not None:
        parts.append(f"price {outcome.price}")
    if outcome.base is not None:
        parts.append(f"{outcome.percentage}% of base {outcome.base}")
    for tier in outcome.price_tiers:
        amount = tier.price if tier.price is not None else f"{tier.percentage}% of the base"
        parts.append(f"tier {tier.id}: {amount}")
    if outcome.multiplier:
        parts.append("times a multiplier table")
    if outcome.price_per:
        parts.append("per unit of " + ", ".join(str(a) for a in outcome.price_per))
    if outcome.scaled_by_score:
        parts.append(f"times score {outcome.scaled_by_score}")
    if outcome.minimum_amount is not None or outcome.maximum_amount is not None:
        parts.append(f"within {outcome.minimum_amount or '-'} to {outcome.maximum_amount or '-'}")
    return f"{'; '.join(parts) or 'no price'} ({rulebook.currency})"


def _pricing(versions: Sequence[Version], outcome: Outcome) -> Document:
    latest = versions[-1].rulebook
    found: Document = {
        "outcome_metric_id": value(outcome.id),
        "currency": value(latest.currency),
        "price_description": value(_describe_price(latest, outcome)),
    }
    price = unit_price(latest, outcome)
    if price is not None:
        found["price_per_unit"] = {"amount": value(price)}
    changes = _price_changes(versions, outcome.id)
    if changes:
        found["contracted_increases_to_outcome_pricing"] = value("; ".join(changes))
    return found


def _price_changes(versions: Sequence[Version], outcome_id: str) -> list[str]:
    """Each amendment that changed the outcome's price, and from when."""
    changes, before = [], None
    for version in versions:
        outcome = next((o for o in version.rulebook.outcomes if o.id == outcome_id), None)
        described = _describe_price(version.rulebook, outcome) if outcome else "not paid for"
        if before is not None and described != before:
            changes.append(
                f"version {version.number}, from {version.rulebook.effective_from}: {described}"
            )
        before = described
    return changes


# ---- results and payments, per period ------------------------------------------------------------
def _bounds(period: Period, label: str, year_starts: int) -> Document:
    first = period.start_of(label, year_starts)
    last = shift(first, period.months) - dt.timedelta(days=1)
    return {"start_date": value(first.isoformat()), "end_date": value(last.isoformat())}


def _results(
    rulebook: RuleBook,
    labels: list[str],
    period: Period,
    engaged: Mapping[str, int],
    money: Sequence[OutcomeMoney],
    ended: bool,
) -> list[Document]:
    year_starts = rulebook.year_starts
    engaged_in: dict[str, int] = defaultdict(int)
    for month, count in engaged.items():
        engaged_in[label_of(period, month, year_starts)] += count
    achieved: dict[tuple[str, str], int] = defaultdict(int)
    for row in money:
        achieved[(row.outcome_id, label_of(period, row.booked_period, year_starts))] += row.claims
    kind = value("Final" if ended else "Interim")
    found = []
    for label in labels:
        found.append(
            {
                "result_level": value("Project level"),
                "result_type": kind,
                "period": _bounds(period, label, year_starts),
                "number_engaged_in_impact_bond": value(engaged_in.get(label, 0)),
            }
        )
        for outcome in rulebook.outcomes:
            found.append(
                {
                    "outcome_metric_id": value(outcome.id),
                    "result_level": value("Outcome level"),
                    "result_type": kind,
                    "period": _bounds(period, label, year_starts),
                    "number_with_positive_social_outcomes": value(
                        achieved.get((outcome.id, label), 0)
                    ),
                }
            )
    return found


def _payments(
    rulebook: RuleBook, labels: list[str], period: Period, money: Sequence[OutcomeMoney]
) -> list[Document]:
    year_starts = rulebook.year_starts
    paid: dict[tuple[str, str, str], int] = defaultdict(int)
    for row in money:
        key = (row.outcome_id, row.provider_id, label_of(period, row.booked_period, year_starts))
        paid[key] += row.paid_minor
    unit = minor_unit(rulebook.currency)
    found = []
    for label in labels:
        for (outcome_id, provider_id, within), amount in sorted(paid.items()):
            if within != label or amount == 0:
                continue
            found.append(
                {
                    "outcome_metric_id": value(outcome_id),
                    "period": _bounds(period, label, year_starts),
                    "recipient_organisation_id": value(provider_id),
                    "type": value("Actual"),
                    "money": {
                        "currency": value(rulebook.currency),
                        "amount": value(Decimal(amount) * unit),
                    },
                }
            )
    return found
