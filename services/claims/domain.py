"""Claims domain: contracts (versioned rule books), participants (event intake) and claims.

Aggregates only: no I/O, no FastAPI, no SQLAlchemy, no settings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.claims import claim_links
from services.claims.claim import Claim
from services.claims.claim_links import LinksClaims
from shared.feed import catalogue as feed
from shared.feed.envelope import EventCatalogue
from shared.identifiers import canonical_sha256, participant_stream_id, stable_id
from shared.rules.engine import DerivedClaim, RecordedEvent, RuleBookVersion
from shared.rules.model import RuleBook


class UnknownEvent(LookupError):
    """No event with this id was recorded for this participant."""


class EventWithdrawn(Exception):
    """The event was retracted; it cannot be corrected any more."""


class Contract(Aggregate):
    """A contract's rule book and its versions; each version is kept whole, forever."""

    class Registered(Aggregate.Created):
        contract_id: str
        rulebook: dict[str, Any]
        document_sha256: str

    class Amended(Aggregate.Event):
        version: int
        rulebook: dict[str, Any]
        document_sha256: str

    @staticmethod
    def create_id(contract_id: str, rulebook: dict[str, Any], document_sha256: str) -> UUID:
        return stable_id("contract", contract_id)

    @event(Registered)
    def __init__(self, contract_id: str, rulebook: dict[str, Any], document_sha256: str) -> None:
        self.contract_id = contract_id
        self.documents: list[dict[str, Any]] = [rulebook]
        self.document_hashes: list[str] = [document_sha256]

    @event(Amended)
    def amend(self, version: int, rulebook: dict[str, Any], document_sha256: str) -> None:
        self.documents.append(rulebook)
        self.document_hashes.append(document_sha256)

    @property
    def current_version(self) -> int:
        return len(self.documents)

    def version_of_document(self, document_sha256: str) -> int | None:
        if document_sha256 in self.document_hashes:
            return self.document_hashes.index(document_sha256) + 1
        return None


class Participant(LinksClaims, Aggregate):
    """One participant of one contract: the events a provider recorded, and the claims derived."""

    class Registered(Aggregate.Created):
        contract_id: str
        provider_id: str
        participant_id: str
        subject: str

    class EventRecorded(Aggregate.Event):
        event_id: str
        type: str
        occurred_on: str
        attributes: dict[str, Any]
        body_sha256: str
        actor: str
        personal_sealed: str | None

    class EventCorrected(Aggregate.Event):
        event_id: str
        type: str
        occurred_on: str
        attributes: dict[str, Any]
        body_sha256: str
        actor: str
        reason: str
        personal_sealed: str | None

    class PersonalDataErased(Aggregate.Event):
        actor: str
        sealed_events: int

    class EventRetracted(Aggregate.Event):
        event_id: str
        actor: str
        reason: str

    ClaimLinked = claim_links.ClaimLinked
    ClaimUnlinked = claim_links.ClaimUnlinked

    @staticmethod
    def create_id(contract_id: str, provider_id: str, participant_id: str, subject: str) -> UUID:
        return participant_stream_id(contract_id, participant_id)

    @event(Registered)
    def __init__(
        self, contract_id: str, provider_id: str, participant_id: str, subject: str
    ) -> None:
        self.contract_id = contract_id
        self.provider_id = provider_id
        self.participant_id = participant_id
        self.subject = subject
        self.events: list[dict[str, Any]] = []
        self.claims: dict[str, dict[str, str]] = {}
        self.personal_data_erased = False

    @event(EventRecorded)
    def record_event(
        self,
        event_id: str,
        type: str,
        occurred_on: str,
        attributes: dict[str, Any],
        body_sha256: str,
        actor: str,
        personal_sealed: str | None = None,
    ) -> None:
        self.events.append(
            {
                "event_id": event_id,
                "type": type,
                "occurred_on": occurred_on,
                "attributes": attributes,
                "personal_sealed": personal_sealed,
                "body_sha256": body_sha256,
                "actor": actor,
                "stream_version": self.version + 1,
            }
        )

    def correct_event(
        self,
        event_id: str,
        type: str,
        occurred_on: str,
        attributes: dict[str, Any],
        body_sha256: str,
        actor: str,
        reason: str,
        personal_sealed: str | None = None,
    ) -> bool:
        """Replace an event's body; returns False (and records nothing) if it is unchanged.

        Sealed personal values are deterministic, so equal values compare equal sealed.
        """
        current = self.check_correctable(event_id)
        before = (current["type"], current["occurred_on"], current["attributes"])
        if before == (type, occurred_on, attributes) and (
            current.get("personal_sealed") == personal_sealed
        ):
            return False
        self._corrected(
            event_id, type, occurred_on, attributes, body_sha256, actor, reason, personal_sealed
        )
        return True

    @event(EventCorrected)
    def _corrected(
        self,
        event_id: str,
        type: str,
        occurred_on: str,
        attributes: dict[str, Any],
        body_sha256: str,
        actor: str,
        reason: str,
        personal_sealed: str | None = None,
    ) -> None:
        entry = self.event_entry(event_id)
        entry.update(
            type=type,
            occurred_on=occurred_on,
            attributes=attributes,
            body_sha256=body_sha256,
            personal_sealed=personal_sealed,
        )
        entry["corrections"] = entry.get("corrections", 0) + 1

    def erase_personal_data(self, actor: str) -> bool:
        """Note that the participant's personal data was destroyed; False if noted before."""
        if self.personal_data_erased:
            return False
        sealed = sum(1 for e in self.events if e.get("personal_sealed"))
        self._personal_data_erased(actor, sealed)
        return True

    @event(PersonalDataErased)
    def _personal_data_erased(self, actor: str, sealed_events: int) -> None:
        self.personal_data_erased = True

    def retract_event(self, event_id: str, actor: str, reason: str) -> bool:
        """Withdraw an event from the history; returns False if it was withdrawn before."""
        entry = self.event_entry(event_id)
        if entry.get("retracted"):
            return False
        self._retracted(event_id, actor, reason)
        return True

    @event(EventRetracted)
    def _retracted(self, event_id: str, actor: str, reason: str) -> None:
        self.event_entry(event_id)["retracted"] = True

    def event_entry(self, event_id: str) -> dict[str, Any]:
        for entry in self.events:
            if entry["event_id"] == event_id:
                return entry
        raise UnknownEvent(event_id)

    def check_correctable(self, event_id: str) -> dict[str, Any]:
        entry = self.event_entry(event_id)
        if entry.get("retracted"):
            raise EventWithdrawn(event_id)
        return entry

    def history(self) -> list[RecordedEvent]:
        return [
            RecordedEvent(
                event_id=e["event_id"],
                type=e["type"],
                occurred_on=dt.date.fromisoformat(e["occurred_on"]),
                attributes=e["attributes"],
            )
            for e in self.events
            if not e.get("retracted")
        ]


def claim_fingerprint(derived: DerivedClaim) -> str:
    return canonical_sha256([str(part) for part in derived.fingerprint()])


class IntakeReceipt(Aggregate):
    """Remembers one provider event id, so a retried POST gets the first answer back."""

    class Issued(Aggregate.Created):
        contract_id: str
        provider_id: str
        event_id: str
        body_sha256: str
        participant_id: str
        participant_stream_version: int
        claim_ids: list[str]
        retired_claim_ids: list[str] | None = None  # absent from receipts issued before it

    @staticmethod
    def create_id(contract_id: str, provider_id: str, event_id: str, **_: Any) -> UUID:
        return receipt_id(contract_id, provider_id, event_id)

    @event(Issued)
    def __init__(
        self,
        contract_id: str,
        provider_id: str,
        event_id: str,
        body_sha256: str,
        participant_id: str,
        participant_stream_version: int,
        claim_ids: list[str],
        retired_claim_ids: list[str] | None = None,
    ) -> None:
        self.event_id = event_id
        self.body_sha256 = body_sha256
        self.participant_id = participant_id
        self.participant_stream_version = participant_stream_version
        self.claim_ids = claim_ids
        self.retired_claim_ids = retired_claim_ids or []


def receipt_id(contract_id: str, provider_id: str, event_id: str) -> UUID:
    return stable_id("receipt", contract_id, provider_id, event_id)


def versions_of(contract: Contract) -> list[RuleBookVersion]:
    return [
        RuleBookVersion(version=index + 1, rulebook=RuleBook.model_validate(document))
        for index, document in enumerate(contract.documents)
    ]


CATALOGUE = EventCatalogue(
    {
        Contract.Registered: feed.ContractRegistered,
        Contract.Amended: feed.ContractAmended,
        Participant.Registered: feed.ParticipantRegistered,
        Participant.EventRecorded: feed.EventRecorded,
        Participant.EventCorrected: feed.EventCorrected,
        Participant.EventRetracted: feed.EventRetracted,
        Participant.PersonalDataErased: feed.PersonalDataErased,
        Claim.Derived: feed.ClaimDerived,
        Claim.EvidenceAttached: feed.EvidenceAttached,
        Claim.Submitted: feed.ClaimSubmitted,
        Claim.Verified: feed.ClaimVerified,
        Claim.Rejected: feed.ClaimRejected,
        Claim.Disputed: feed.ClaimDisputed,
        Claim.Voided: feed.ClaimVoided,
        Claim.ReversalRequested: feed.ClaimReversalRequested,
    }
)
