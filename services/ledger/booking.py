"""The booking rules: how a verified claim, a reversal and a remittance become postings.

Pure functions over a :class:`Book`: no I/O, no clock (the period a posting lands in is passed
in). Each posting balances; the book refuses any that does not. The claims a booking concerns
must be in the book's working set (their lines read in by the application): a claim whose line
is not there is taken as never accrued.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from services.ledger.domain import Book, LedgerRuleError
from shared.feed.accounts import (
    CAPPED_OFFSET,
    OUTCOME_PAYMENTS,
    PAID,
    Kind,
    capped_account,
    payable_account,
    recoverable_account,
)
from shared.feed.catalogue import (
    Booking,
)
from shared.periods import month_of
from shared.rules.caps import let_through


@dataclass(frozen=True)
class RemittanceLine:
    payable_id: str
    amount_minor: int


def _corrects(book: Book, occurred_on: str) -> str | None:
    period = month_of(dt.date.fromisoformat(occurred_on))
    return period if period in book.closed_periods else None


def accrue(
    book: Book, claim_id: str, facts: Booking, today_period: str, amendment_id: str | None = None
) -> None:
    """Book a verified claim: owed to the provider up to the tightest cap, the rest to memo.
    ``amendment_id``: the retroactive amendment that caused it, named in the transaction."""
    if claim_id in book.lines:
        return
    if facts.currency != book.currency:
        raise LedgerRuleError(f"claim in {facts.currency} for a book in {book.currency}")
    amount = facts.amount_minor
    caps = book.cap_keys(facts)
    accrued, capped, binding = let_through(amount, caps, book.usage())
    provider = facts.provider_id
    period = book.booking_period(today_period)
    corrects = _corrects(book, facts.occurred_on)
    line: dict[str, Any] = {
        "provider_id": provider,
        "participant_id": facts.participant_id,
        "outcome_id": facts.outcome_id,
        "occurred_on": facts.occurred_on,
        "contract_version": facts.contract_version,
        "amount": amount,
        "accrued": accrued,
        "capped": capped,
        "cap_id": binding,
        "cap_keys": [key for _, key, _ in caps],
    }
    entries = [(OUTCOME_PAYMENTS, accrued), (payable_account(provider), -accrued)]
    if capped:
        entries += [(capped_account(str(binding)), capped), (CAPPED_OFFSET, -capped)]
    details: dict[str, Any] = {"line": line, "cap_keys": line["cap_keys"]}
    if amendment_id is not None:
        details["amendment_id"] = amendment_id
    book.post(Kind.ACCRUAL, claim_id, provider, entries, period, corrects, details, ())
    _net(book, claim_id, provider, accrued, period)


def _net(book: Book, claim_id: str, provider: str, accrued: int, period: str) -> None:
    """Set what the provider owes back against what it is now owed, oldest receivable first."""
    owed_back = book.balances.get(recoverable_account(provider), 0)
    amount = min(owed_back, accrued)
    if amount <= 0:
        return
    recovers, left = [], amount
    for reversed_claim, remaining in book.open_receivables(provider):
        if not left:
            break
        taken = min(left, remaining)
        recovers.append({"claim_id": reversed_claim, "amount_minor": taken})
        left -= taken
    entries = [(payable_account(provider), amount), (recoverable_account(provider), -amount)]
    details = {"amount": amount, "recovers": recovers}
    book.post(Kind.NETTING, claim_id, provider, entries, period, None, details, ("netting",))


def reverse(book: Book, claim_id: str, today_period: str, amendment_id: str | None = None) -> None:
    """Undo a claim's accrual: unpaid part off the payable, paid part owed back by the provider.
    ``amendment_id``: the retroactive amendment that caused it, named in the transaction."""
    line = book.lines.get(claim_id)
    if line is None or line["reversed"]:
        return
    provider = line["provider_id"]
    unpaid = book.outstanding(claim_id)
    settled = line["accrued"] - unpaid
    entries = [
        (payable_account(provider), unpaid),
        (recoverable_account(provider), settled),
        (OUTCOME_PAYMENTS, -line["accrued"]),
    ]
    if line["capped"]:
        entries += [
            (capped_account(str(line["cap_id"])), -line["capped"]),
            (CAPPED_OFFSET, line["capped"]),
        ]
    period = book.booking_period(today_period)
    corrects = _corrects(book, line["occurred_on"])
    details: dict[str, Any] = {
        "unpaid": unpaid, "recoverable": settled,
        "accrued": line["accrued"], "cap_keys": line["cap_keys"],
    }  # fmt: skip
    if amendment_id is not None:
        details["amendment_id"] = amendment_id
    book.post(Kind.REVERSAL, claim_id, provider, entries, period, corrects, details, ())


def check_remittance(book: Book, currency: str, lines: list[RemittanceLine]) -> list[str]:
    """Every problem with a remittance against this book, before anything is posted."""
    problems = []
    if currency != book.currency:
        problems.append(f"currency {currency} does not match the contract's {book.currency}")
    for index, line in enumerate(lines):
        if line.payable_id not in book.lines:
            problems.append(
                f"lines.{index}.payable_id: no payable {line.payable_id!r} in this contract"
            )
        if line.amount_minor <= 0:
            problems.append(f"lines.{index}.amount_minor: must be positive")
    return problems


def remit(
    book: Book, remittance_id: str, lines: list[RemittanceLine], today_period: str
) -> list[dict[str, Any]]:
    """Record what the payer paid: against each payable, any excess as an overpayment owed back."""
    problems = check_remittance(book, book.currency, lines)
    if problems:
        raise LedgerRuleError("; ".join(problems))
    period = book.booking_period(today_period)
    results = []
    for index, line in enumerate(lines):
        provider = book.lines[line.payable_id]["provider_id"]
        applied = min(line.amount_minor, book.outstanding(line.payable_id))
        excess = line.amount_minor - applied
        parts = (remittance_id, str(index))
        if applied:
            entries = [(payable_account(provider), applied), (PAID, -applied)]
            details = {"amount": applied, "remittance_id": remittance_id}
            book.post(
                Kind.PAYMENT, line.payable_id, provider, entries, period, None, details, parts
            )
        if excess:
            entries = [(recoverable_account(provider), excess), (PAID, -excess)]
            details = {"amount": excess, "remittance_id": remittance_id}
            book.post(
                Kind.OVERPAYMENT, line.payable_id, provider, entries, period, None, details, parts
            )
        results.append(
            {"payable_id": line.payable_id, "applied_minor": applied, "overpaid_minor": excess}
        )
    return results
