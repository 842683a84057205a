"""Ledger domain: one double-entry book per contract, in the contract's currency.

Amounts are signed integer minor units: debits positive, credits negative; every transaction's
entries sum to zero, so the book's balances always sum to zero. Chart of accounts:

| account | normal balance | meaning |
|---|---|---|
| ``outcome_payments`` | debit | owed for outcomes, net of caps and reversals |
| ``payable:<provider>`` | credit | owed to the provider, not yet paid |
| ``paid`` | credit | paid out by the payer |
| ``recoverable:<provider>`` | debit | owed back by the provider (reversed once paid, overpaid) |
| ``memo:capped:<cap>``, ``memo:capped_offset`` | debit, credit | memo pair: what a cap held back |

Every transaction names its kind and the claim it concerns, and carries ``details`` from which
replaying the book rebuilds all of its state. The accounts' names live in the chart of accounts
(:mod:`shared.feed.accounts`), which every reader of a posting shares. Aggregates only: no
I/O, no clock.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from shared.feed import catalogue as feed
from shared.feed.accounts import Kind
from shared.feed.envelope import EventCatalogue
from shared.identifiers import stable_id
from shared.periods import add_months
from shared.rules.caps import cap_keys


class LedgerRuleError(ValueError):
    """A posting that would break the book's rules (unbalanced, wrong currency, unknown line)."""


class PeriodAlreadyClosed(LedgerRuleError):
    pass


def transaction_id(contract_id: str, *parts: str) -> str:
    return str(stable_id("ledger-transaction", contract_id, *parts))


class Book(Aggregate):
    """A contract's double-entry book: balances, payable lines per claim, caps and periods."""

    class Opened(Aggregate.Created):
        contract_id: str
        currency: str
        caps: list[dict[str, Any]]
        providers: list[str]
        starts_on: str | None = None  # absent from books opened before it was recorded

    class TermsChanged(Aggregate.Event):
        caps: list[dict[str, Any]]
        providers: list[str]

    class TransactionPosted(Aggregate.Event):
        transaction_id: str
        kind: str
        claim_id: str
        provider_id: str
        currency: str
        entries: list[dict[str, Any]]
        booked_period: str
        corrects_period: str | None
        details: dict[str, Any]

    class PeriodClosed(Aggregate.Event):
        period: str
        actor: str

    @staticmethod
    def create_id(
        contract_id: str,
        currency: str,
        caps: list[dict[str, Any]],
        providers: list[str],
        starts_on: str | None = None,
    ) -> UUID:
        return book_id(contract_id)

    @event(Opened)
    def __init__(
        self,
        contract_id: str,
        currency: str,
        caps: list[dict[str, Any]],
        providers: list[str],
        starts_on: str | None = None,
    ) -> None:
        self.contract_id = contract_id
        self.currency = currency
        self.caps = caps
        self.providers = providers
        self.starts_on = starts_on
        self.balances: dict[str, int] = {}
        self.lines: dict[str, dict[str, Any]] = {}
        self.cap_usage: dict[str, int] = {}
        self.receivables: dict[str, list[list[Any]]] = {}
        self.period_totals: dict[str, dict[str, dict[str, int]]] = {}
        self.closed_periods: list[str] = []
        self.corrections: dict[str, list[dict[str, Any]]] = {}
        self.transaction_count = 0
        self.sequence = 0

    # ---- caps --------------------------------------------------------------------------------
    @event(TermsChanged)
    def change_terms(self, caps: list[dict[str, Any]], providers: list[str]) -> None:
        """A contract amendment: new caps, and the providers now in the contract."""
        self.caps = caps
        self.providers = providers

    def cap_keys(self, facts: feed.Booking) -> list[tuple[str, str, int]]:
        """(cap id, usage key, limit in minor units) of every cap that applies to a claim."""
        return cap_keys(
            self.caps, self.currency, facts.outcome_id, facts.occurred_on, facts.participant_id
        )

    # ---- periods -------------------------------------------------------------------------------
    def booking_period(self, today_period: str) -> str:
        """The period a posting made today lands in: the first open one from today's on."""
        period = today_period
        while period in self.closed_periods:
            period = add_months(period, 1)
        return period

    def first_period(self) -> str | None:
        """The month the contract started (``YYYY-MM``), if the book was told it (books, and
        snapshots, from before it was recorded were not)."""
        starts_on: str | None = getattr(self, "starts_on", None)
        return starts_on[:7] if starts_on else None

    def close_period(self, period: str, actor: str) -> None:
        if period in self.closed_periods:
            raise PeriodAlreadyClosed(f"period {period} is already closed")
        self._period_closed(period, actor)

    @event(PeriodClosed)
    def _period_closed(self, period: str, actor: str) -> None:
        self.closed_periods.append(period)

    # ---- postings ------------------------------------------------------------------------------
    def post(
        self,
        kind: Kind,
        claim_id: str,
        provider_id: str,
        entries: list[tuple[str, int]],
        booked_period: str,
        corrects_period: str | None,
        details: dict[str, Any],
        id_parts: tuple[str, ...],
    ) -> str:
        lines = [
            {"account": account, "amount_minor": amount} for account, amount in entries if amount
        ]
        if sum(amount for _, amount in entries) != 0:
            raise LedgerRuleError(f"a {kind.value} for claim {claim_id} does not balance")
        identifier = transaction_id(self.contract_id, kind.value, claim_id, *id_parts)
        self._posted(
            transaction_id=identifier, kind=kind.value, claim_id=claim_id, provider_id=provider_id,
            currency=self.currency, entries=lines, booked_period=booked_period,
            corrects_period=corrects_period, details=details,
        )  # fmt: skip
        return identifier

    @event(TransactionPosted)
    def _posted(
        self,
        transaction_id: str,
        kind: str,
        claim_id: str,
        provider_id: str,
        currency: str,
        entries: list[dict[str, Any]],
        booked_period: str,
        corrects_period: str | None,
        details: dict[str, Any],
    ) -> None:
        for entry in entries:
            account = entry["account"]
            self.balances[account] = self.balances.get(account, 0) + int(entry["amount_minor"])
        self.transaction_count += 1
        if corrects_period is not None:
            self.corrections.setdefault(booked_period, []).append(
                {"transaction_id": transaction_id, "kind": kind, "claim_id": claim_id,
                 "corrects_period": corrects_period}
            )  # fmt: skip
        self._track(Kind(kind), claim_id, provider_id, booked_period, details)

    def _track(
        self, kind: Kind, claim_id: str, provider_id: str, period: str, details: dict[str, Any]
    ) -> None:
        totals = self.period_totals.setdefault(period, {}).setdefault(provider_id, {})

        def add(name: str, amount: int) -> None:
            totals[name] = totals.get(name, 0) + amount

        if kind is Kind.ACCRUAL:
            self.sequence += 1
            self.lines[claim_id] = {
                **details["line"], "seq": self.sequence, "paid": 0, "netted": 0, "reversed": False,
            }  # fmt: skip
            for key in details["cap_keys"]:
                self.cap_usage[key] = self.cap_usage.get(key, 0) + details["line"]["accrued"]
            add("accrued", details["line"]["accrued"])
            add("capped", details["line"]["capped"])
        elif kind is Kind.REVERSAL:
            line = self.lines[claim_id]
            line["reversed"] = True
            for key in line["cap_keys"]:
                self.cap_usage[key] -= line["accrued"]
            add("reversed", line["accrued"])
            if details["recoverable"]:
                self.receivables.setdefault(provider_id, []).append(
                    [claim_id, details["recoverable"]]
                )
        elif kind is Kind.PAYMENT:
            self.lines[claim_id]["paid"] += details["amount"]
            add("paid", details["amount"])
        elif kind is Kind.OVERPAYMENT:
            self.receivables.setdefault(provider_id, []).append([claim_id, details["amount"]])
            add("paid", details["amount"])
        elif kind is Kind.NETTING:
            self.lines[claim_id]["netted"] += details["amount"]
            self._consume_receivables(provider_id, details["amount"])
            add("recovered", details["amount"])

    def _consume_receivables(self, provider_id: str, amount: int) -> None:
        queue = self.receivables.get(provider_id, [])
        while amount and queue:
            taken = min(amount, queue[0][1])
            queue[0][1] -= taken
            amount -= taken
            if not queue[0][1]:
                queue.pop(0)

    def open_receivables(self, provider_id: str) -> list[tuple[str, int]]:
        return [
            (claim_id, remaining) for claim_id, remaining in self.receivables.get(provider_id, [])
        ]

    def outstanding(self, claim_id: str) -> int:
        """What is still payable on a claim's line: nothing once it was reversed."""
        line = self.lines[claim_id]
        return 0 if line["reversed"] else int(line["accrued"] - line["paid"] - line["netted"])


def book_id(contract_id: str) -> UUID:
    return stable_id("book", contract_id)


def _date(text: str) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(text)


CATALOGUE = EventCatalogue(
    {
        Book.Opened: feed.BookOpened,
        Book.TermsChanged: feed.TermsChanged,
        Book.TransactionPosted: feed.TransactionPosted,
        Book.PeriodClosed: feed.PeriodClosed,
    }
)
