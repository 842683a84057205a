"""Ledger domain: one double-entry book per contract.

Amounts are signed integer minor units in the contract's currency: debits positive, credits
negative. Every transaction's entries sum to zero, so the book's balances always sum to zero.

Chart of accounts (this issue books the first two; the rest come with remittances and caps):
- ``outcome_payments``: the contract's expense for outcomes achieved (debit balance);
- ``payable:<provider_id>``: owed to a provider and not yet paid (credit balance).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from shared.feed.envelope import EventCatalogue, PublicType
from shared.identifiers import stable_id

OUTCOME_PAYMENTS = "outcome_payments"


def payable_account(provider_id: str) -> str:
    return f"payable:{provider_id}"


class TransactionKind(StrEnum):
    ACCRUAL = "accrual"


class UnbalancedTransaction(ValueError):
    pass


class Book(Aggregate):
    """A contract's double-entry book and its running balances."""

    class Opened(Aggregate.Created):
        contract_id: str
        currency: str

    class TransactionPosted(Aggregate.Event):
        transaction_id: str
        kind: str
        claim_id: str
        provider_id: str
        currency: str
        entries: list[dict[str, Any]]

    @staticmethod
    def create_id(contract_id: str, currency: str) -> UUID:
        return book_id(contract_id)

    @event(Opened)
    def __init__(self, contract_id: str, currency: str) -> None:
        self.contract_id = contract_id
        self.currency = currency
        self.balances: dict[str, int] = {}
        self.transaction_count = 0

    def accrue(self, claim_id: str, booking: dict[str, Any]) -> None:
        """Book a verified claim: the contract owes the provider the claim's amount."""
        amount_minor = int(booking["amount_minor"])
        self.check_currency(booking["currency"])
        entries = [
            {"account": OUTCOME_PAYMENTS, "amount_minor": amount_minor},
            {"account": payable_account(booking["provider_id"]), "amount_minor": -amount_minor},
        ]
        self.post(
            transaction_id=str(
                stable_id("ledger-transaction", self.contract_id, claim_id, "accrual")
            ),
            kind=TransactionKind.ACCRUAL.value,
            claim_id=claim_id,
            provider_id=booking["provider_id"],
            currency=self.currency,
            entries=entries,
        )

    def check_currency(self, currency: str) -> None:
        if currency != self.currency:
            raise UnbalancedTransaction(f"book is in {self.currency}, not {currency}")

    @event(TransactionPosted)
    def post(
        self,
        transaction_id: str,
        kind: str,
        claim_id: str,
        provider_id: str,
        currency: str,
        entries: list[dict[str, Any]],
    ) -> None:
        if sum(int(e["amount_minor"]) for e in entries) != 0:
            raise UnbalancedTransaction(f"transaction {transaction_id} does not balance")
        for entry in entries:
            account = entry["account"]
            self.balances[account] = self.balances.get(account, 0) + int(entry["amount_minor"])
        self.transaction_count += 1


def book_id(contract_id: str) -> UUID:
    return stable_id("book", contract_id)


CATALOGUE = EventCatalogue(
    {
        Book.Opened: PublicType("ledger.book_opened", 1),
        Book.TransactionPosted: PublicType("ledger.transaction_posted", 1),
    }
)
