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

The book's own state is bounded whatever the number of its claims (issue 20, point 1): each
claim's payable line and each participant's use of participant caps live in aggregates of their
own (:mod:`services.ledger.lines`). Booking reads them into the book's *working set*
(``lines``, ``participant_usage``) and the application saves what changed in them with the
book's postings; the working set is never part of the book's snapshots. The book asserts its
invariants as it changes: every transaction balances, its balances sum to zero, and a claim is
accrued at most once.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.domain import Snapshot as LibrarySnapshot

from services.ledger.lines import LineState
from shared.feed import catalogue as feed
from shared.feed.accounts import Kind
from shared.feed.envelope import EventCatalogue
from shared.identifiers import stable_id
from shared.periods import add_months
from shared.rules.caps import cap_keys, is_participant_key


class LedgerRuleError(ValueError):
    """A posting that would break the book's rules (unbalanced, wrong currency, unknown line)."""


class LedgerInvariantBroken(AssertionError):
    """The book found its own state broken as it changed (a bug, never bad input)."""


class PeriodAlreadyClosed(LedgerRuleError):
    pass


def transaction_id(contract_id: str, *parts: str) -> str:
    return str(stable_id("ledger-transaction", contract_id, *parts))


# the book's working set: state of its claims and participants read in for one booking, kept in
# aggregates of their own and never in the book's snapshots
WORKING_SET = ("lines", "participant_usage", "touched")


class Book(Aggregate):
    """A contract's double-entry book: balances, caps, periods; its claims' lines apart."""

    # 2: the working set left out of snapshots, participant caps' use apart from the book's
    class_version = 2

    class Snapshot(LibrarySnapshot):
        """A book's snapshot: its state without the working set."""

        @classmethod
        def take(cls, aggregate: Any) -> Any:
            taken = super().take(aggregate)
            for name in WORKING_SET:
                taken.state.pop(name, None)
            return taken

        def mutate(self, _: None) -> Any:
            book: Any = super().mutate(_)
            book.lines, book.participant_usage, book.touched = {}, {}, set()
            return book

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot from before the working set: every line in it, participant caps' use in
        the book's own. The application moves both into their aggregates (``lines_apart``);
        a month's corrections are the transaction index's to list."""
        usage = state.get("cap_usage", {})
        state["participant_usage"] = {k: v for k, v in usage.items() if is_participant_key(k)}
        state["cap_usage"] = {k: v for k, v in usage.items() if not is_participant_key(k)}
        state.setdefault("lines_apart", False)
        state["touched"] = set(state.get("lines", {}))
        state.pop("corrections", None)  # the transaction index keeps them (corrects_period)

    class Opened(Aggregate.Created):
        contract_id: str
        currency: str
        caps: list[dict[str, Any]]
        providers: list[str]
        starts_on: str | None = None  # absent from books opened before it was recorded

    class LinesMovedApart(Aggregate.Event):
        """From here on the book's lines and allowances are aggregates of their own: a new
        book's second event, or an older book's once the application moved them apart."""

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
        self.lines_apart = False  # until LinesMovedApart
        self.balances: dict[str, int] = {}
        # caps used per contract, outcome or period (participant caps: participant_usage)
        self.cap_usage: dict[str, int] = {}
        self.receivables: dict[str, list[list[Any]]] = {}  # open ones only, oldest first
        self.period_totals: dict[str, dict[str, dict[str, int]]] = {}
        self.closed_periods: list[str] = []
        self.transaction_count = 0
        self.sequence = 0
        # the working set (WORKING_SET): read in for a booking, saved apart, then forgotten
        self.lines: dict[str, LineState] = {}
        self.participant_usage: dict[str, int] = {}
        self.touched: set[str] = set()

    # ---- the working set -------------------------------------------------------------------------
    def take_in(self, lines: Mapping[str, LineState], usage: Mapping[str, int]) -> None:
        """Read claims' lines and participants' cap use in for a booking (copies)."""
        for claim_id, line in lines.items():
            self.lines.setdefault(claim_id, LineState(**line))
        for key, used in usage.items():
            self.participant_usage.setdefault(key, used)

    def forget(self) -> None:
        """Drop the working set (once what changed in it is saved)."""
        self.lines, self.participant_usage, self.touched = {}, {}, set()

    def usage(self) -> Mapping[str, int]:
        """Every cap's use: the book's own and the participants' read in."""
        return ChainMap(self.participant_usage, self.cap_usage)

    @event(LinesMovedApart)
    def lines_moved_apart(self) -> None:
        self.lines_apart = True

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
        if sum(int(entry["amount_minor"]) for entry in entries) != 0:
            raise LedgerInvariantBroken(f"transaction {transaction_id} does not balance")
        for entry in entries:
            account = entry["account"]
            self.balances[account] = self.balances.get(account, 0) + int(entry["amount_minor"])
        if sum(self.balances.values()) != 0:
            raise LedgerInvariantBroken(f"the balances no longer sum to zero ({transaction_id})")
        self.transaction_count += 1
        self._track(Kind(kind), claim_id, provider_id, booked_period, details)

    def _track(
        self, kind: Kind, claim_id: str, provider_id: str, period: str, details: dict[str, Any]
    ) -> None:
        """What a posting changes besides balances. A line not in the working set (a book
        replayed from its snapshot) is left alone: its own aggregate holds it."""
        totals = self.period_totals.setdefault(period, {}).setdefault(provider_id, {})

        def add(name: str, amount: int) -> None:
            totals[name] = totals.get(name, 0) + amount

        line = self.lines.get(claim_id)
        if line is not None or kind is Kind.ACCRUAL:
            self.touched.add(claim_id)
        if kind is Kind.ACCRUAL:
            if line is not None:
                raise LedgerInvariantBroken(f"claim {claim_id} accrued twice")
            self.sequence += 1
            booked = details["line"]
            self.lines[claim_id] = cast(
                LineState,
                {**booked, "seq": self.sequence, "paid": 0, "netted": 0, "reversed": False},
            )
            self._use(details["cap_keys"], booked["accrued"])
            add("accrued", booked["accrued"])
            add("capped", booked["capped"])
        elif kind is Kind.REVERSAL:
            # reversals carry what they undo; those from before it did had the line in hand
            accrued = details["accrued"] if "accrued" in details else line["accrued"]  # type: ignore[index]
            keys = details["cap_keys"] if "cap_keys" in details else line["cap_keys"]  # type: ignore[index]
            if line is not None:
                line["reversed"] = True
            self._use(keys, -accrued)
            add("reversed", accrued)
            if details["recoverable"]:
                self.receivables.setdefault(provider_id, []).append(
                    [claim_id, details["recoverable"]]
                )
        elif kind is Kind.PAYMENT:
            if line is not None:
                line["paid"] += details["amount"]
            add("paid", details["amount"])
        elif kind is Kind.OVERPAYMENT:
            self.receivables.setdefault(provider_id, []).append([claim_id, details["amount"]])
            add("paid", details["amount"])
        elif kind is Kind.NETTING:
            if line is not None:
                line["netted"] += details["amount"]
            self._consume_receivables(provider_id, details["amount"])
            add("recovered", details["amount"])

    def _use(self, keys: list[str], amount: int) -> None:
        for key in keys:
            usage = self.participant_usage if is_participant_key(key) else self.cap_usage
            usage[key] = usage.get(key, 0) + amount

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
        """What is still payable on a claim's line (in the working set)."""
        return outstanding(self.lines[claim_id])


def outstanding(line: LineState) -> int:
    """What is still payable on a line: nothing once it was reversed."""
    return 0 if line["reversed"] else int(line["accrued"] - line["paid"] - line["netted"])


def book_id(contract_id: str) -> UUID:
    return stable_id("book", contract_id)


CATALOGUE = EventCatalogue(
    {
        Book.Opened: feed.BookOpened,
        Book.TermsChanged: feed.TermsChanged,
        Book.TransactionPosted: feed.TransactionPosted,
        Book.PeriodClosed: feed.PeriodClosed,
    }
)
