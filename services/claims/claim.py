"""The outcome claim and its lifecycle: an explicit state machine, every transition an event.

```
awaiting_evidence -submit-> submitted -verify-> verified -request_reversal-> reversal_requested
                                 |
                                 +-reject-> rejected -dispute-> disputed -verify-> verified
                                                                   +-reject-> rejected_final
unpaid (awaiting_evidence, submitted, rejected, disputed, rejected_final) -void-> voided
```

Aggregates only: no I/O. Time comes in as an argument (``at``), never from a clock here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from shared.identifiers import stable_id


class ClaimStatus(StrEnum):
    AWAITING_EVIDENCE = "awaiting_evidence"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"
    DISPUTED = "disputed"
    REJECTED_FINAL = "rejected_final"
    VOIDED = "voided"
    REVERSAL_REQUESTED = "reversal_requested"


class Action(StrEnum):
    SUBMIT = "submit"
    VERIFY = "verify"
    REJECT = "reject"
    DISPUTE = "dispute"
    VOID = "void"
    REQUEST_REVERSAL = "request_reversal"


S, A = ClaimStatus, Action
UNPAID = (S.AWAITING_EVIDENCE, S.SUBMITTED, S.REJECTED, S.DISPUTED, S.REJECTED_FINAL)
TRANSITIONS: dict[tuple[ClaimStatus, Action], ClaimStatus] = {
    (S.AWAITING_EVIDENCE, A.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, A.VERIFY): S.VERIFIED,
    (S.SUBMITTED, A.REJECT): S.REJECTED,
    (S.REJECTED, A.DISPUTE): S.DISPUTED,
    (S.DISPUTED, A.VERIFY): S.VERIFIED,
    (S.DISPUTED, A.REJECT): S.REJECTED_FINAL,
    (S.VERIFIED, A.REQUEST_REVERSAL): S.REVERSAL_REQUESTED,
    **{(status, A.VOID): S.VOIDED for status in UNPAID},
}
EVIDENCE_OPEN = (S.AWAITING_EVIDENCE, S.SUBMITTED, S.REJECTED, S.DISPUTED)


class IllegalTransition(Exception):
    def __init__(self, claim_id: UUID, status: ClaimStatus, action: str) -> None:
        super().__init__(f"claim {claim_id} is {status.value}; it cannot be {action}")
        self.status = status


class DisputeWindowClosed(Exception):
    """The provider disputed a rejection after the contract's dispute window."""


class EvidenceNotAccepted(Exception):
    """The evidence type is not one the rule book lists, or the claim no longer takes evidence."""


def next_status(status: ClaimStatus, action: Action) -> ClaimStatus | None:
    return TRANSITIONS.get((status, action))


def sample_score(contract_id: str, period: str, provider_id: str, claim_id: str) -> Decimal:
    """A number in [0, 1) anyone can recompute from the contract, period, provider and claim."""
    seed = "\x1f".join((contract_id, period, provider_id, claim_id)).encode()
    digest = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big")
    return Decimal(digest) / Decimal(2**64)


def is_sampled(
    contract_id: str, period: str, provider_id: str, claim_id: str, percent: Decimal
) -> bool:
    """Whether a claim falls in the manual-review sample: its score is below the percentage."""
    return sample_score(contract_id, period, provider_id, claim_id) * 100 < percent


@dataclass(frozen=True)
class Evidence:
    evidence_type: str
    sha256: str
    uri: str | None
    issued_on: str


class Claim(Aggregate):
    """An outcome claim: what a subject achieved, what it is worth, and its verification."""

    class Derived(Aggregate.Created):
        contract_id: str
        participant_id: str
        claim_key: str
        fingerprint: str
        provider_id: str
        outcome_id: str
        occurred_on: str
        amount_minor: int
        currency: str
        contract_version: int
        trigger_event_id: str
        source_event_ids: list[str]
        tier: str | None
        trace: dict[str, Any]
        evidence_required: list[str]
        status: ClaimStatus
        generation: int

    class Transitioned(Aggregate.Event):
        """A change of status: who made it, when, why, and what a ledger needs to act on it."""

        actor: str
        status: str
        at: str
        note: str
        booking: dict[str, Any]

    class Submitted(Transitioned):
        sampled: bool
        sample_period: str

    class Verified(Transitioned):
        pass

    class Rejected(Transitioned):
        reason_code: str

    class Disputed(Transitioned):
        pass

    class Voided(Transitioned):
        pass

    class ReversalRequested(Transitioned):
        pass

    class EvidenceAttached(Aggregate.Event):
        actor: str
        evidence_type: str
        sha256: str
        uri: str | None
        issued_on: str

    @staticmethod
    def create_id(
        contract_id: str,
        participant_id: str,
        claim_key: str,
        fingerprint: str,
        generation: int = 0,
        **_: Any,
    ) -> UUID:
        return claim_id_for(contract_id, participant_id, claim_key, fingerprint, generation)

    @event(Derived)
    def __init__(
        self,
        contract_id: str,
        participant_id: str,
        claim_key: str,
        fingerprint: str,
        provider_id: str,
        outcome_id: str,
        occurred_on: str,
        amount_minor: int,
        currency: str,
        contract_version: int,
        trigger_event_id: str,
        source_event_ids: list[str],
        tier: str | None,
        trace: dict[str, Any],
        evidence_required: list[str],
        status: ClaimStatus,
        generation: int,
    ) -> None:
        self.contract_id = contract_id
        self.participant_id = participant_id
        self.claim_key = claim_key
        self.fingerprint = fingerprint
        self.provider_id = provider_id
        self.outcome_id = outcome_id
        self.occurred_on = occurred_on
        self.amount_minor = amount_minor
        self.currency = currency
        self.contract_version = contract_version
        self.trigger_event_id = trigger_event_id
        self.source_event_ids = source_event_ids
        self.tier = tier
        self.trace = trace
        self.evidence_required = evidence_required
        self.status = ClaimStatus(status)
        self.generation = generation
        self.status_since = ""
        self.evidence: list[Evidence] = []
        self.sampled = False

    def booking_facts(self) -> dict[str, Any]:
        """What a downstream ledger needs to book this claim, carried on its transitions."""
        return {
            "contract_id": self.contract_id,
            "provider_id": self.provider_id,
            "participant_id": self.participant_id,
            "outcome_id": self.outcome_id,
            "occurred_on": self.occurred_on,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "contract_version": self.contract_version,
        }

    # ---- guards ----------------------------------------------------------------------------
    def check(self, action: Action, described: str) -> ClaimStatus:
        target = next_status(self.status, action)
        if target is None:
            raise IllegalTransition(self.id, self.status, described)
        return target

    def missing_evidence(self) -> list[str]:
        present = {e.evidence_type for e in self.evidence}
        return [t for t in self.evidence_required if t not in present]

    # ---- commands ----------------------------------------------------------------------------
    def attach_evidence(self, actor: str, evidence: Evidence) -> bool:
        """Attach a reference to a document (never the document); False if attached before."""
        if evidence.evidence_type not in self.evidence_required:
            raise EvidenceNotAccepted(f"this outcome takes no {evidence.evidence_type!r} evidence")
        if self.status not in EVIDENCE_OPEN:
            raise EvidenceNotAccepted(f"a {self.status.value} claim takes no more evidence")
        if evidence in self.evidence:
            return False
        self._evidence_attached(
            actor=actor,
            evidence_type=evidence.evidence_type,
            sha256=evidence.sha256,
            uri=evidence.uri,
            issued_on=evidence.issued_on,
        )
        return True

    def submit_if_complete(
        self, actor: str, at: dt.datetime, sampled: bool, sample_period: str
    ) -> bool:
        if self.status is not ClaimStatus.AWAITING_EVIDENCE or self.missing_evidence():
            return False
        target = self.check(Action.SUBMIT, "submitted")
        self._submitted(
            actor=actor, status=target.value, at=at.isoformat(), note="evidence complete",
            booking=self.booking_facts(), sampled=sampled, sample_period=sample_period,
        )  # fmt: skip
        return True

    def verify(self, actor: str, at: dt.datetime, note: str) -> None:
        target = self.check(Action.VERIFY, "verified")
        self._verified(
            actor=actor,
            status=target.value,
            at=at.isoformat(),
            note=note,
            booking=self.booking_facts(),
        )

    def reject(self, actor: str, at: dt.datetime, reason_code: str, note: str) -> None:
        target = self.check(Action.REJECT, "rejected")
        self._rejected(
            actor=actor, status=target.value, at=at.isoformat(), note=note,
            booking=self.booking_facts(), reason_code=reason_code,
        )  # fmt: skip

    def dispute(self, actor: str, at: dt.datetime, note: str, window_days: int) -> None:
        target = self.check(Action.DISPUTE, "disputed")
        rejected_at = dt.datetime.fromisoformat(self.status_since)
        if at > rejected_at + dt.timedelta(days=window_days):
            raise DisputeWindowClosed(
                f"the dispute window of {window_days} days closed on "
                f"{(rejected_at + dt.timedelta(days=window_days)).isoformat()}"
            )
        self._disputed(
            actor=actor,
            status=target.value,
            at=at.isoformat(),
            note=note,
            booking=self.booking_facts(),
        )

    def retire(self, actor: str, at: dt.datetime, reason: str) -> None:
        """The claim is no longer supported by the history: void it, or ask for a reversal."""
        facts: dict[str, Any] = {
            "actor": actor,
            "at": at.isoformat(),
            "note": reason,
            "booking": self.booking_facts(),
        }
        if self.status is ClaimStatus.VERIFIED:
            self._reversal_requested(status=ClaimStatus.REVERSAL_REQUESTED.value, **facts)
        elif self.status in UNPAID:
            self._voided(status=ClaimStatus.VOIDED.value, **facts)

    # ---- events --------------------------------------------------------------------------------
    @event(EvidenceAttached)
    def _evidence_attached(
        self, actor: str, evidence_type: str, sha256: str, uri: str | None, issued_on: str
    ) -> None:
        self.evidence.append(Evidence(evidence_type, sha256, uri, issued_on))

    def _move(self, status: str, at: str) -> None:
        self.status = ClaimStatus(status)
        self.status_since = at

    @event(Submitted)
    def _submitted(
        self,
        actor: str,
        status: str,
        at: str,
        note: str,
        booking: dict[str, Any],
        sampled: bool,
        sample_period: str,
    ) -> None:
        self._move(status, at)
        self.sampled = sampled

    @event(Verified)
    def _verified(
        self, actor: str, status: str, at: str, note: str, booking: dict[str, Any]
    ) -> None:
        self._move(status, at)

    @event(Rejected)
    def _rejected(
        self, actor: str, status: str, at: str, note: str, booking: dict[str, Any], reason_code: str
    ) -> None:
        self._move(status, at)

    @event(Disputed)
    def _disputed(
        self, actor: str, status: str, at: str, note: str, booking: dict[str, Any]
    ) -> None:
        self._move(status, at)

    @event(Voided)
    def _voided(self, actor: str, status: str, at: str, note: str, booking: dict[str, Any]) -> None:
        self._move(status, at)

    @event(ReversalRequested)
    def _reversal_requested(
        self, actor: str, status: str, at: str, note: str, booking: dict[str, Any]
    ) -> None:
        self._move(status, at)


def claim_id_for(
    contract_id: str, participant_id: str, claim_key: str, fingerprint: str, generation: int = 0
) -> UUID:
    """Content-addressed: the same derivation gets the same id on any machine, in any order.

    A derivation identical to an earlier claim that was voided (an event corrected and then
    corrected back) takes the next generation, so it becomes a new claim beside the old one.
    """
    parts = [contract_id, participant_id, claim_key, fingerprint]
    if generation:
        parts.append(str(generation))
    return stable_id("claim", *parts)
