"""Caps: which of a rule book's caps a claim counts against, and how much of it they let
through. One home for the arithmetic the ledger books with and what-if previews with.

A cap is a dict as the rule book's terms give it (``scope``: ``contract``, ``outcome``,
``period`` or ``participant``; ``id``; ``amount``; ``outcome``, ``period`` and ``year_starts``
where they apply). Each applies to a claim under a usage key: the cap itself, its period's
label (``quarterly@2026-Q2``) or its participant (``per_person#p_…``). A claim is let through
up to the least headroom of the caps it counts against; the rest is capped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from shared.feed.views import Terms
from shared.money import exact_minor
from shared.periods import Period


def caps_of(terms: Terms) -> list[dict[str, Any]]:
    """A rule book's caps as they are metered: a period cap of a contract whose reporting year
    does not start in January carries that start, so its quarters and years are the
    contract's."""
    year_starts = terms.year_starts
    return [
        {**cap, "year_starts": year_starts}
        if cap["scope"] == "period" and year_starts != 1
        else cap
        for cap in terms.caps
    ]


def cap_keys(
    caps: Sequence[dict[str, Any]],
    currency: str,
    outcome_id: str,
    occurred_on: str,
    participant_id: str,
) -> list[tuple[str, str, int]]:
    """(cap id, usage key, limit in minor units) of every cap that applies to a claim."""
    keys = []
    for cap in caps:
        scope, cap_id = cap["scope"], cap["id"]
        limit = exact_minor(cap["amount"], currency)
        if scope == "contract" or (scope == "outcome" and cap["outcome"] == outcome_id):
            keys.append((cap_id, cap_id, limit))
        elif scope == "period":
            day = dt.date.fromisoformat(occurred_on)
            label = Period(cap["period"]).label(day, cap.get("year_starts", 1))
            keys.append((cap_id, f"{cap_id}@{label}", limit))
        elif scope == "participant":
            keys.append((cap_id, f"{cap_id}#{participant_id}", limit))
    return keys


def is_participant_key(key: str) -> bool:
    """Whether a usage key is a participant's (``per_person#p_…``): cap ids never hold ``#``."""
    return "#" in key


def let_through(
    amount: int, keys: Sequence[tuple[str, str, int]], usage: Mapping[str, int]
) -> tuple[int, int, str | None]:
    """(accrued, capped, the binding cap's id or None) of a claim of ``amount`` against the
    caps it counts against, given what each usage key has used so far."""
    headroom = [(limit - usage.get(key, 0), cap_id) for cap_id, key, limit in keys]
    tightest, binding = min(headroom) if headroom else (amount, None)
    accrued = max(0, min(amount, tightest))
    return accrued, amount - accrued, binding if amount > accrued else None


class CapMeter:
    """Claims let through a rule book's caps one after another, as a ledger books them."""

    def __init__(self, caps: Sequence[dict[str, Any]], currency: str) -> None:
        self._caps = list(caps)
        self._currency = currency
        self.usage: dict[str, int] = {}
        self.accrued = 0
        self.capped = 0

    def book(self, amount: int, outcome_id: str, occurred_on: str, participant_id: str) -> int:
        """Let a claim through; what is accrued of it."""
        keys = cap_keys(self._caps, self._currency, outcome_id, occurred_on, participant_id)
        accrued, capped, _ = let_through(amount, keys, self.usage)
        for _, key, _ in keys:
            self.usage[key] = self.usage.get(key, 0) + accrued
        self.accrued += accrued
        self.capped += capped
        return accrued
