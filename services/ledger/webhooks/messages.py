"""What a subscriber is told: the ledger feed's entries as webhook messages.

A message has the Standard Webhooks shape, ``{"type", "timestamp", "data"}``; its data names
the contract and the feed position it came from, so a receiver can fetch the rest or resume
from the feed. One feed entry gives at most two messages (a verified claim that is payable), in
a fixed order, so a subscription's deliveries follow the feed's order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.feed import catalogue as feed
from shared.feed.accounts import Kind
from shared.feed.envelope import FeedEntry


class MessageKind(StrEnum):
    CLAIM_VERIFIED = "claim.verified"
    CLAIM_PAYABLE = "claim.payable"
    CLAIM_REVERSED = "claim.reversed"
    REMITTANCE_RECORDED = "remittance.recorded"
    PERIOD_CLOSED = "period.closed"


# the ledger feed's entry types that give messages: the outbox follower reads only these
SOURCE_TYPES = frozenset({feed.TransactionPosted.TYPE, feed.PeriodClosed.TYPE})


@dataclass(frozen=True)
class Message:
    ordinal: int  # its place among the messages of one feed entry
    kind: MessageKind
    data: dict[str, Any]

    def body(self, entry: FeedEntry) -> str:
        """The JSON sent, fixed when the message is queued so every retry sends the same."""
        document = {
            "type": self.kind.value,
            "timestamp": entry.recorded_at.isoformat(),
            "data": self.data,
        }
        return json.dumps(document, separators=(",", ":"), sort_keys=True)


def messages_of(entry: FeedEntry, contract_id: str) -> list[Message]:
    """The messages a ledger feed entry gives (none for most: openings, terms, nettings)."""
    common = {"contract_id": contract_id, "feed_position": entry.position}
    if entry.type == feed.PeriodClosed.TYPE:
        closed = feed.PeriodClosed.of(entry)
        data = {**common, "period": closed.period, "actor": closed.actor}
        return [Message(0, MessageKind.PERIOD_CLOSED, data)]
    if entry.type != feed.TransactionPosted.TYPE:
        return []
    posted = feed.TransactionPosted.of(entry)
    booked = {
        **common,
        "transaction_id": posted.transaction_id,
        "provider_id": posted.provider_id,
        "currency": posted.currency,
        "booked_period": posted.booked_period,
    }
    if posted.kind == Kind.ACCRUAL:
        line = posted.accrual().line
        verified = {
            **booked,
            "claim_id": posted.claim_id,
            "outcome_id": line.outcome_id,
            "occurred_on": line.occurred_on,
            "contract_version": line.contract_version,
            "amount_minor": line.amount,
            "accrued_minor": line.accrued,
            "capped_minor": line.capped,
            "cap_id": line.cap_id,
        }
        found = [Message(0, MessageKind.CLAIM_VERIFIED, verified)]
        if line.accrued > 0:
            payable = {
                **booked,
                "payable_id": posted.claim_id,
                "outcome_id": line.outcome_id,
                "amount_minor": line.accrued,
            }
            found.append(Message(1, MessageKind.CLAIM_PAYABLE, payable))
        return found
    if posted.kind == Kind.REVERSAL:
        reversal = posted.reversal()
        data = {
            **booked,
            "claim_id": posted.claim_id,
            "unpaid_minor": reversal.unpaid,
            "recoverable_minor": reversal.recoverable,
        }
        return [Message(0, MessageKind.CLAIM_REVERSED, data)]
    if posted.kind in (Kind.PAYMENT, Kind.OVERPAYMENT):
        payment = posted.payment()
        data = {
            **booked,
            "remittance_id": payment.remittance_id,
            "payable_id": posted.claim_id,
            "posted_as": posted.kind,  # payment, or overpayment: paid beyond what was payable
            "amount_minor": payment.amount,
        }
        return [Message(0, MessageKind.REMITTANCE_RECORDED, data)]
    return []
