"""A book's per-claim and per-participant state, kept apart from the book (issue 20, point 1).

A contract's :class:`~services.ledger.domain.Book` holds only what is bounded whatever the
number of claims: balances per account, caps used per contract, outcome and period, totals per
month and provider, open receivables and closed months. What grows with the claims lives in
aggregates of its own, saved in the same transaction as the book's posting that changed them:

- a :class:`Line` per booked claim: what was accrued, capped, paid, netted, whether reversed;
- an :class:`Allowance` per participant of a contract with participant caps: what of each such
  cap the participant's claims have used.

The book's postings (its ``TransactionPosted`` events, the ledger's public feed) stay the
journal; a line or an allowance is the state those postings left for one claim or one person,
recorded at every change so that booking the next claim reads one small aggregate instead of
the whole contract's history. Aggregates only: no I/O, no clock.
"""

from __future__ import annotations

from typing import TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from shared.identifiers import stable_id


class LineState(TypedDict):
    """One claim's payable line, as its postings left it (amounts in minor units)."""

    provider_id: str
    participant_id: str
    outcome_id: str
    occurred_on: str
    contract_version: int | None
    amount: int
    accrued: int
    capped: int
    cap_id: str | None
    cap_keys: list[str]
    seq: int
    paid: int
    netted: int
    reversed: bool


def line_id(contract_id: str, claim_id: str) -> UUID:
    return stable_id("ledger-line", contract_id, claim_id)


def allowance_id(contract_id: str, participant_id: str) -> UUID:
    return stable_id("ledger-allowance", contract_id, participant_id)


class Line(Aggregate):
    """One claim's payable line in a contract's book; each change records the line whole."""

    class Opened(Aggregate.Created):
        contract_id: str
        claim_id: str
        line: LineState

    class Changed(Aggregate.Event):
        line: LineState

    @staticmethod
    def create_id(contract_id: str, claim_id: str, line: LineState) -> UUID:
        return line_id(contract_id, claim_id)

    @event(Opened)
    def __init__(self, contract_id: str, claim_id: str, line: LineState) -> None:
        self.contract_id = contract_id
        self.claim_id = claim_id
        self.line = line

    def record(self, line: LineState) -> None:
        if line != self.line:
            self._changed(LineState(**line))

    @event(Changed)
    def _changed(self, line: LineState) -> None:
        self.line = line


class Allowance(Aggregate):
    """What a participant's claims used of each participant cap, by usage key."""

    class Opened(Aggregate.Created):
        contract_id: str
        participant_id: str
        usage: dict[str, int]

    class Changed(Aggregate.Event):
        usage: dict[str, int]

    @staticmethod
    def create_id(contract_id: str, participant_id: str, usage: dict[str, int]) -> UUID:
        return allowance_id(contract_id, participant_id)

    @event(Opened)
    def __init__(self, contract_id: str, participant_id: str, usage: dict[str, int]) -> None:
        self.contract_id = contract_id
        self.participant_id = participant_id
        self.usage = usage

    def record(self, usage: dict[str, int]) -> None:
        if usage != self.usage:
            self._changed(dict(usage))

    @event(Changed)
    def _changed(self, usage: dict[str, int]) -> None:
        self.usage = usage
