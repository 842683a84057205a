"""Models of the public feeds, rebuilt from their entries alone.

What a reader that knows no service's database, classes or keys can know: the claims feed's
rule books, participants' histories and claims with their statuses, and the ledger feed's
postings summed per account. The auditor's recomputation and the claims service's what-if both
replay the claims feed into :class:`ClaimsFeedModel`; every entry is read through its type in
the catalogue (:mod:`shared.feed.catalogue`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from shared.feed import accounts
from shared.feed import catalogue as feed
from shared.rules.conditions import RecordedEvent

RETIRED = frozenset({"voided", "reversal_requested"})  # statuses of claims no longer live


@dataclass
class HistoryEvent:
    event_id: str
    type: str
    occurred_on: str
    attributes: dict[str, Any]
    retracted: bool = False


@dataclass
class ParticipantHistory:
    contract_id: str
    provider_id: str
    participant_id: str
    events: list[HistoryEvent] = field(default_factory=list)

    def history(self) -> list[RecordedEvent]:
        return [
            RecordedEvent(e.event_id, e.type, dt.date.fromisoformat(e.occurred_on), e.attributes)
            for e in self.events
            if not e.retracted
        ]

    def record(self, event: feed.EventRecorded | feed.EventCorrected) -> None:
        """A new event, or a correction of one (which replaces its body in place)."""
        body = HistoryEvent(event.event_id, event.type, event.occurred_on, event.attributes)
        for index, known in enumerate(self.events):
            if known.event_id == event.event_id:
                self.events[index] = body
                return
        self.events.append(body)

    def retract(self, event_id: str) -> None:
        next(e for e in self.events if e.event_id == event_id).retracted = True


@dataclass
class FeedClaim:
    """A claim as the feed shows it: what was derived, and its latest status."""

    claim_id: str
    contract_id: str
    participant_id: str
    provider_id: str
    claim_key: str
    outcome_id: str
    occurred_on: str
    amount_minor: int
    currency: str
    contract_version: int
    status: str

    @classmethod
    def derived(cls, claim_id: str, claim: feed.ClaimDerived) -> FeedClaim:
        return cls(
            claim_id,
            claim.contract_id,
            claim.participant_id,
            claim.provider_id,
            claim.claim_key,
            claim.outcome_id,
            claim.occurred_on,
            claim.amount_minor,
            claim.currency,
            claim.contract_version,
            claim.status,
        )

    @property
    def live(self) -> bool:
        return self.status not in RETIRED


class ClaimsFeedModel:
    """What the claims feed says: rule books, participants' histories, claims and statuses."""

    TYPES = feed.PARTICIPANT_HISTORY_TYPES | {feed.ClaimDerived.TYPE} | feed.CLAIM_TRANSITIONS

    def __init__(self) -> None:
        self.rulebooks: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.participants: dict[str, ParticipantHistory] = {}
        self.claims: dict[str, FeedClaim] = {}
        self.verified: set[str] = set()
        self.verified_order: list[str] = []  # the claims as they were verified (booked)
        self.entries = 0
        self.last_recorded: dt.date | None = None

    def apply(self, entry: feed.HasEntry) -> None:
        self.entries += 1
        self.last_recorded = entry.recorded_at.date()
        stream = entry.stream_id
        match feed.parse(entry) if entry.type in self.TYPES else None:
            case feed.RuleBookPublished() as published:
                self.rulebooks[published.terms().contract_id].append(published.rulebook)
            case feed.ParticipantRegistered() as subject:
                self.participants[stream] = ParticipantHistory(
                    subject.contract_id, subject.provider_id, subject.participant_id
                )
            case feed.EventRecorded() | feed.EventCorrected() as event:
                self.participants[stream].record(event)
            case feed.EventRetracted() as retracted:
                self.participants[stream].retract(retracted.event_id)
            case feed.ClaimDerived() as derived:
                self.claims[stream] = FeedClaim.derived(stream, derived)
            case feed.ClaimTransition() as transition:
                self.claims[stream].status = transition.status
                if isinstance(transition, feed.ClaimVerified):
                    self.verified.add(stream)
                    self.verified_order.append(stream)

    def live_claims(self) -> list[FeedClaim]:
        return [claim for claim in self.claims.values() if claim.live]


@dataclass(frozen=True)
class Unbalanced:
    transaction_id: str
    total_minor: int


class LedgerFeedModel:
    """What the ledger feed says: each book's postings, summed per account, and each claim's
    accruals."""

    def __init__(self) -> None:
        self.books: dict[str, str] = {}  # book stream -> contract
        self.balances: dict[str, Counter[str]] = defaultdict(Counter)
        self.accruals: dict[str, list[feed.TransactionPosted]] = defaultdict(list)
        self.unbalanced: list[Unbalanced] = []
        self.entries = 0

    def apply(self, entry: feed.HasEntry) -> None:
        self.entries += 1
        if entry.type == feed.BookOpened.TYPE:
            self.books[entry.stream_id] = feed.BookOpened.of(entry).contract_id
        elif entry.type == feed.TransactionPosted.TYPE:
            posted = feed.TransactionPosted.of(entry)
            contract_id = self.books[entry.stream_id]
            total = sum(leg.amount_minor for leg in posted.entries)
            if total != 0:
                self.unbalanced.append(Unbalanced(posted.transaction_id, total))
            for leg in posted.entries:
                self.balances[contract_id][leg.account] += leg.amount_minor
            if posted.kind == accounts.Kind.ACCRUAL:
                self.accruals[posted.claim_id].append(posted)
