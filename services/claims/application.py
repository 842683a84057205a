"""Claims use cases: register contracts, record participant events, decide claims.

Each use case loads what it needs, changes aggregates, and ends in exactly one ``save``, so a
recorded event and the claims it implies are stored in one transaction and can never be seen
apart. Conflicting concurrent writes are retried a bounded number of times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import UUID

from services.claims.claim import Claim
from services.claims.commands import (
    Batch,
    CorrectionResult,
    IncomingEvent,
    IntakeResult,
    Rederivation,
)
from services.claims.derivation import rederive
from services.claims.domain import (
    CATALOGUE,
    Contract,
    EventWithdrawn,
    IntakeReceipt,
    Participant,
    canonical_sha256,
    participant_stream_id,
    receipt_id,
    versions_of,
)
from services.claims.erasure import PersonalDataUseCases
from services.claims.errors import (
    ContractConflict,
    ContractNotFound,
    EventIdReused,
    EventNotFound,
    EventRejected,
    EventRetracted,
    ParticipantNotFound,
    ProviderNotInContract,
)
from services.claims.personal import PersonalDataVault
from services.claims.verification import VerificationUseCases, retrying
from shared.errors import FieldProblem
from shared.eventstore import OutcomesApplication
from shared.identifiers import pseudonymise, stable_id
from shared.rules.attributes import normalise_attributes
from shared.rules.engine import Derivation, RuleBookVersion, derive
from shared.rules.model import PARTICIPANT, RuleBook

EVENT_DATE_TOLERANCE_DAYS = 1
EARLIEST_OCCURRED_ON = dt.date(1990, 1, 1)
T = TypeVar("T")


class ClaimsApplication(PersonalDataUseCases, VerificationUseCases, OutcomesApplication):
    name = "claims"
    catalogue = CATALOGUE

    def __init__(
        self,
        database_url: str,
        pseudonym_key: str,
        clock: Callable[[], dt.datetime],
        vault: PersonalDataVault,
        store_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(database_url, store_env)
        self._pseudonym_key = pseudonym_key
        self._clock = clock
        self._vault = vault
        self._rulebooks: dict[tuple[str, int], RuleBookVersion] = {}

    def close(self) -> None:
        super().close()
        self._vault.close()

    # ---- contracts -----------------------------------------------------------------------
    def register_contract(self, rulebook: RuleBook) -> tuple[int, bool]:
        """Register a rule book, or a new version of it. Returns (version, created)."""
        return retrying(lambda: self._register_contract(rulebook))

    def _register_contract(self, rulebook: RuleBook) -> tuple[int, bool]:
        document = rulebook.canonical()
        digest = canonical_sha256(document)
        try:
            contract = self._load_contract(rulebook.contract_id)
        except ContractNotFound:
            self.save(Contract(rulebook.contract_id, document, digest))
            return 1, True
        existing = contract.version_of_document(digest)
        if existing is not None:
            return existing, False
        latest = RuleBook.model_validate(contract.documents[-1])
        if rulebook.currency != latest.currency:
            raise ContractConflict("a new version cannot change the contract's currency")
        if rulebook.effective_from <= latest.effective_from:
            raise ContractConflict(
                "a new version must take effect after the current one "
                f"({latest.effective_from.isoformat()})"
            )
        earliest = self._clock().date() + dt.timedelta(days=EVENT_DATE_TOLERANCE_DAYS + 1)
        if rulebook.effective_from < earliest:
            raise ContractConflict(
                f"a new version must take effect on or after {earliest.isoformat()}: events up "
                "to then may be recorded already, with claims priced under the current version"
            )
        contract.amend(contract.current_version + 1, document, digest)
        self.save(contract)
        return contract.current_version, True

    def contract(self, contract_id: str) -> Contract:
        return self._load_contract(contract_id)

    def _load_contract(self, contract_id: str) -> Contract:
        contract = self.load(stable_id("contract", contract_id), Contract)
        if contract is None:
            raise ContractNotFound(contract_id)
        return contract

    def _versions(self, contract: Contract) -> list[RuleBookVersion]:
        versions = []
        for number in range(1, contract.current_version + 1):
            key = (contract.contract_id, number)
            if key not in self._rulebooks:
                self._rulebooks[key] = versions_of(contract)[number - 1]
            versions.append(self._rulebooks[key])
        return versions

    # ---- intake ----------------------------------------------------------------------------
    def record_events(
        self, contract_id: str, provider_id: str, events: Sequence[IncomingEvent], actor: str
    ) -> list[IntakeResult]:
        """Record events (one, or a batch) and derive their claims, all in one transaction."""
        return retrying(lambda: self._record_events(contract_id, provider_id, events, actor))

    def _record_events(
        self, contract_id: str, provider_id: str, events: Sequence[IncomingEvent], actor: str
    ) -> list[IntakeResult]:
        contract = self._load_contract(contract_id)
        versions = self._versions(contract)
        latest = versions[-1].rulebook
        if provider_id not in latest.provider_ids():
            raise ProviderNotInContract(provider_id, contract_id)
        self._check_events(latest, events)
        batch = Batch()
        planned: list[tuple[IncomingEvent, IntakeResult | Participant]] = []
        seen_in_batch: dict[str, str] = {}
        for index, incoming in enumerate(events):
            replay = self._replayed(contract_id, provider_id, incoming, index, seen_in_batch)
            if replay is not None:
                planned.append((incoming, replay))
                continue
            participant = self._participant_for(batch, latest, contract_id, provider_id, incoming)
            attributes, sealed = self._seal_personal(latest, participant, incoming)
            participant.record_event(
                event_id=incoming.event_id,
                type=incoming.type,
                occurred_on=incoming.occurred_on.isoformat(),
                attributes=attributes,
                body_sha256=incoming.body_sha256(),
                actor=actor,
                personal_sealed=sealed,
            )
            planned.append((incoming, participant))
        new_claims = rederive(
            batch, versions, actor, self.claim, self._clock(), self._claim_exists
        ).new_by_trigger
        for incoming, outcome in planned:
            if isinstance(outcome, Participant):
                self._issue_receipt(batch, contract_id, provider_id, incoming, outcome, new_claims)
        recordings = self.save(*batch.aggregates())
        positions = {
            (r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
            for r in recordings
        }
        return [
            self._result(outcome, incoming, positions, new_claims) for incoming, outcome in planned
        ]

    def _check_events(self, rulebook: RuleBook, events: Sequence[IncomingEvent]) -> None:
        problems: list[FieldProblem] = []
        latest_allowed = self._clock().date() + dt.timedelta(days=EVENT_DATE_TOLERANCE_DAYS)
        for index, incoming in enumerate(events):
            prefix = f"events.{index}." if len(events) > 1 else ""
            spec = rulebook.event_types.get(incoming.type)
            if spec is None:
                known = ", ".join(sorted(rulebook.event_types))
                problems.append(
                    FieldProblem(f"{prefix}type", f"unknown event type; known: {known}")
                )
                continue
            if not EARLIEST_OCCURRED_ON <= incoming.occurred_on <= latest_allowed:
                problems.append(
                    FieldProblem(f"{prefix}occurred_on", "must be a real date, not in the future")
                )
            normalised, found = normalise_attributes(
                spec, incoming.attributes, f"{prefix}attributes"
            )
            problems.extend(found)
            if not found:
                incoming.attributes.clear()
                incoming.attributes.update(normalised)
        if problems:
            raise EventRejected("the event does not fit the contract's event types", problems)

    def _replayed(
        self,
        contract_id: str,
        provider_id: str,
        incoming: IncomingEvent,
        index: int,
        seen_in_batch: dict[str, str],
    ) -> IntakeResult | None:
        digest = incoming.body_sha256()
        if incoming.event_id in seen_in_batch:
            if seen_in_batch[incoming.event_id] != digest:
                raise EventIdReused(
                    f"event_id {incoming.event_id!r} appears twice with different bodies"
                )
            raise EventIdReused(f"event_id {incoming.event_id!r} appears twice in one batch")
        seen_in_batch[incoming.event_id] = digest
        receipt = self.load(receipt_id(contract_id, provider_id, incoming.event_id), IntakeReceipt)
        if receipt is None:
            return None
        if receipt.body_sha256 != digest:
            raise EventIdReused(
                f"event_id {incoming.event_id!r} was recorded before with a different body",
                extra={"event_id": incoming.event_id, "index": index},
            )
        stream = participant_stream_id(contract_id, receipt.participant_id)
        position = self.position_of(stream, receipt.participant_stream_version)
        assert position is not None
        return IntakeResult(
            incoming.event_id, receipt.participant_id, position, receipt.claim_ids, False
        )

    def _participant_for(
        self,
        batch: Batch,
        rulebook: RuleBook,
        contract_id: str,
        provider_id: str,
        incoming: IncomingEvent,
    ) -> Participant:
        """The subject an event is about; entities are kept apart from people of the same ref."""
        subject = rulebook.event_types[incoming.type].subject
        reference = incoming.participant_ref
        if subject != PARTICIPANT:
            reference = f"{subject}:{reference}"
        participant_id = pseudonymise(self._pseudonym_key, contract_id, provider_id, reference)
        stream = participant_stream_id(contract_id, participant_id)
        if stream not in batch.participants:
            loaded = self.load(stream, Participant)
            batch.participants[stream] = loaded or Participant(
                contract_id, provider_id, participant_id, subject
            )
        return batch.participants[stream]

    def _issue_receipt(
        self,
        batch: Batch,
        contract_id: str,
        provider_id: str,
        incoming: IncomingEvent,
        participant: Participant,
        new_claims: dict[str, list[str]],
    ) -> None:
        stream_version = _stream_version_of(participant, incoming.event_id)
        batch.receipts.append(
            IntakeReceipt(
                contract_id=contract_id,
                provider_id=provider_id,
                event_id=incoming.event_id,
                body_sha256=incoming.body_sha256(),
                participant_id=participant.participant_id,
                participant_stream_version=stream_version,
                claim_ids=new_claims.get(incoming.event_id, []),
            )
        )

    def _result(
        self,
        outcome: IntakeResult | Participant,
        incoming: IncomingEvent,
        positions: dict[tuple[UUID, int], int],
        new_claims: dict[str, list[str]],
    ) -> IntakeResult:
        if isinstance(outcome, IntakeResult):
            return outcome
        stream_version = _stream_version_of(outcome, incoming.event_id)
        return IntakeResult(
            event_id=incoming.event_id,
            participant_id=outcome.participant_id,
            position=positions[(outcome.id, stream_version)],
            claim_ids=new_claims.get(incoming.event_id, []),
            created=True,
        )

    # ---- corrections ----------------------------------------------------------------------------
    def correct_event(
        self, contract_id: str, provider_id: str, correction: IncomingEvent, actor: str, reason: str
    ) -> CorrectionResult:
        """Replace a recorded event's body; claims are re-derived in the same transaction."""
        return retrying(
            lambda: self._amend_event(
                contract_id, provider_id, correction.event_id, actor, correction, reason
            )
        )

    def retract_event(
        self, contract_id: str, provider_id: str, event_id: str, actor: str, reason: str
    ) -> CorrectionResult:
        """Withdraw a recorded event; claims it supported are voided or marked for reversal."""
        return retrying(
            lambda: self._amend_event(contract_id, provider_id, event_id, actor, None, reason)
        )

    def _amend_event(
        self,
        contract_id: str,
        provider_id: str,
        event_id: str,
        actor: str,
        correction: IncomingEvent | None,
        reason: str,
    ) -> CorrectionResult:
        contract = self._load_contract(contract_id)
        versions = self._versions(contract)
        if provider_id not in versions[-1].rulebook.provider_ids():
            raise ProviderNotInContract(provider_id, contract_id)
        receipt = self.load(receipt_id(contract_id, provider_id, event_id), IntakeReceipt)
        if receipt is None:
            raise EventNotFound(event_id)
        participant = self.participant(contract_id, receipt.participant_id)
        if correction is None:
            changed = participant.retract_event(event_id, actor, reason)
        else:
            self._check_events(versions[-1].rulebook, [correction])
            self._check_same_subject(versions[-1].rulebook, participant, correction)
            changed = self._apply_correction(
                versions[-1].rulebook, participant, correction, actor, reason
            )
        batch = Batch(participants={participant.id: participant})
        outcome = (
            rederive(batch, versions, actor, self.claim, self._clock(), self._claim_exists)
            if changed
            else Rederivation()
        )
        self.save(*batch.aggregates())
        return CorrectionResult(
            event_id, participant.participant_id, changed, outcome.derived(), outcome.retired
        )

    def _apply_correction(
        self,
        rulebook: RuleBook,
        participant: Participant,
        correction: IncomingEvent,
        actor: str,
        reason: str,
    ) -> bool:
        try:
            participant.check_correctable(correction.event_id)
            attributes, sealed = self._seal_personal(rulebook, participant, correction)
            return participant.correct_event(
                event_id=correction.event_id,
                type=correction.type,
                occurred_on=correction.occurred_on.isoformat(),
                attributes=attributes,
                body_sha256=correction.body_sha256(),
                actor=actor,
                reason=reason,
                personal_sealed=sealed,
            )
        except EventWithdrawn:
            raise EventRetracted(
                f"event {correction.event_id!r} was retracted; it cannot be corrected"
            ) from None

    @staticmethod
    def _check_same_subject(
        rulebook: RuleBook, participant: Participant, correction: IncomingEvent
    ) -> None:
        subject = rulebook.event_types[correction.type].subject
        if subject != participant.subject:
            message = f"{correction.type!r} is about a {subject}, not a {participant.subject}"
            raise EventRejected(
                "a correction cannot move an event to another kind of subject",
                [FieldProblem("type", message)],
            )

    # ---- participants and claims --------------------------------------------------------------
    def _claim_exists(self, claim_id: UUID) -> bool:
        return self.load(claim_id, Claim) is not None

    def derivation(self, participant: Participant) -> Derivation:
        """What the participant's history earns now, and whether the participant is eligible."""
        versions = self._versions(self._load_contract(participant.contract_id))
        return derive(versions, participant.history())

    def participant(self, contract_id: str, participant_id: str) -> Participant:
        self._load_contract(contract_id)
        participant = self.load(participant_stream_id(contract_id, participant_id), Participant)
        if participant is None:
            raise ParticipantNotFound(participant_id)
        return participant


def _stream_version_of(participant: Participant, event_id: str) -> int:
    """The participant stream version at which an event was recorded."""
    return next(int(e["stream_version"]) for e in participant.events if e["event_id"] == event_id)
