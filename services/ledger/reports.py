"""Reports read from a book: balances, payables, statements, reconciliation. Pure functions."""

from __future__ import annotations

from typing import Any

from services.ledger.domain import Book, outstanding
from services.ledger.lines import LineState
from shared.feed.accounts import (
    CAPPED_PREFIX,
    OUTCOME_PAYMENTS,
    PAID,
    PAYABLE_PREFIX,
    RECOVERABLE_PREFIX,
    payable_account,
    recoverable_account,
)


def claim_booking(claim_id: str, line: LineState) -> dict[str, Any]:
    """How the book booked one claim: accrued, capped (none, partly or fully; by which cap),
    paid, netted, reversed and still outstanding."""
    capped = "none" if not line["capped"] else ("fully" if not line["accrued"] else "partly")
    return {
        "claim_id": claim_id, "provider_id": line["provider_id"],
        "outcome_id": line["outcome_id"], "amount_minor": line["amount"],
        "accrued_minor": line["accrued"], "capped_minor": line["capped"],
        "cap_id": line["cap_id"], "capped": capped, "paid_minor": line["paid"],
        "netted_minor": line["netted"], "reversed": bool(line["reversed"]),
        "outstanding_minor": outstanding(line),
    }  # fmt: skip


def providers_of(book: Book) -> list[str]:
    """Every provider the book ever posted for (each posting counts in its month's totals)."""
    found = {provider for by_provider in book.period_totals.values() for provider in by_provider}
    found |= {
        a.split(":", 1)[1]
        for a in book.balances
        if a.startswith((PAYABLE_PREFIX, RECOVERABLE_PREFIX))
    }
    return sorted(found)


def balances(book: Book) -> dict[str, Any]:
    return {
        "outcome_payments_minor": book.balances.get(OUTCOME_PAYMENTS, 0),
        "paid_minor": -book.balances.get(PAID, 0),
        "capped_minor": sum(v for k, v in book.balances.items() if k.startswith(CAPPED_PREFIX)),
        "providers": [
            {
                "provider_id": provider,
                "payable_minor": -book.balances.get(payable_account(provider), 0),
                "recoverable_minor": book.balances.get(recoverable_account(provider), 0),
            }
            for provider in providers_of(book)
        ],
    }


def statement(book: Book, period: str) -> list[dict[str, Any]]:
    """Per provider: opening, accrued, capped, reversed, paid, recovered, closing (net owed)."""
    lines = []
    for provider in providers_of(book):
        opening = 0
        for earlier, by_provider in book.period_totals.items():
            if earlier < period:
                totals = by_provider.get(provider, {})
                opening += (
                    totals.get("accrued", 0) - totals.get("reversed", 0) - totals.get("paid", 0)
                )
        now = book.period_totals.get(period, {}).get(provider, {})
        movement = now.get("accrued", 0) - now.get("reversed", 0) - now.get("paid", 0)
        lines.append(
            {
                "provider_id": provider,
                "opening_minor": opening,
                "accrued_minor": now.get("accrued", 0),
                "capped_minor": now.get("capped", 0),
                "reversed_minor": now.get("reversed", 0),
                "paid_minor": now.get("paid", 0),
                "recovered_minor": now.get("recovered", 0),
                "closing_minor": opening + movement,
            }
        )
    return lines


def reconciliation(book: Book) -> list[dict[str, Any]]:
    result = []
    for provider in providers_of(book):
        totals = [by_provider.get(provider, {}) for by_provider in book.period_totals.values()]
        owed = sum(t.get("accrued", 0) - t.get("reversed", 0) for t in totals)
        paid = sum(t.get("paid", 0) for t in totals)
        result.append(
            {
                "provider_id": provider,
                "owed_minor": owed,
                "paid_minor": paid,
                "difference_minor": owed - paid,
                "payable_minor": -book.balances.get(payable_account(provider), 0),
                "recoverable_minor": book.balances.get(recoverable_account(provider), 0),
            }
        )
    return result
