"""Claims use cases: register contracts, record participant events, decide claims.

Each use case loads what it needs, changes aggregates, and ends in exactly one ``save``, so a
recorded event and the claims it implies are stored in one transaction and can never be seen
apart. Conflicting concurrent writes are retried a bounded number of times.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from services.claims.commands import (
    Batch,
    CorrectionResult,
    IncomingEvent,
    IntakeRequest,
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
MAX_KEPT_CONTRACTS = 256
MAX_KEPT_RULEBOOKS = 1024
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
        self._contracts: dict[str, tuple[Contract, float]] = {}  # with when it was checked

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
        contract = self.load(stable_id("contract", rulebook.contract_id), Contract)
        if contract is None:  # loaded afresh, never from the cache: this command changes it
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
        """The contract as stored now (read-only: shared between requests)."""
        return self._load_contract(contract_id)

    def latest_rulebook(self, contract_id: str, checked_within_s: float = 0.0) -> RuleBook:
        """The contract's newest rule book, validated once per version. ``checked_within_s``
        accepts a kept copy checked against the store that recently (for pre-checks that the
        use case repeats against the store)."""
        return self._versions(self._load_contract(contract_id, checked_within_s))[-1].rulebook

    def _load_contract(self, contract_id: str, checked_within_s: float = 0.0) -> Contract:
        """A kept copy, checked against the store on every call (one indexed query for events
        after the kept version), so an amendment by any replica is seen at once."""
        aggregate_id = stable_id("contract", contract_id)
        kept = self._contracts.get(contract_id)
        now = time.monotonic()
        if kept is not None:
            contract, checked = kept
            if now - checked < checked_within_s:
                return contract
            if not self.recorder.select_events(aggregate_id, gt=contract.version, limit=1):
                self._contracts[contract_id] = (contract, now)
                return contract
        loaded = self.load(aggregate_id, Contract)
        if loaded is None:
            raise ContractNotFound(contract_id)
        if len(self._contracts) >= MAX_KEPT_CONTRACTS:
            self._contracts.pop(next(iter(self._contracts)), None)
        self._contracts[contract_id] = (loaded, now)
        return loaded

    def _versions(self, contract: Contract) -> list[RuleBookVersion]:
        versions = []
        for number in range(1, contract.current_version + 1):
            key = (contract.contract_id, number)
            if key not in self._rulebooks:
                if len(self._rulebooks) >= MAX_KEPT_RULEBOOKS:
                    self._rulebooks.pop(next(iter(self._rulebooks)), None)
                self._rulebooks[key] = versions_of(contract)[number - 1]
            versions.append(self._rulebooks[key])
        return versions

    # ---- intake ----------------------------------------------------------------------------
    def record_events(
        self, contract_id: str, provider_id: str, events: Sequence[IncomingEvent], actor: str
    ) -> list[IntakeResult]:
        """Record events (one, or a batch) and derive their claims, all in one transaction."""
        [results] = self.record_many([IntakeRequest(contract_id, provider_id, events, actor)])
        return results

    def record_many(self, requests: Sequence[IntakeRequest]) -> list[list[IntakeResult]]:
        """Record several requests' events and derive their claims in one transaction: all of
        them, or none if any is refused (see :class:`IntakeCommitter`, which combines
        concurrent requests this way and tells each its own answer)."""
        return retrying(lambda: self._record_many(requests))

    def _record_many(self, requests: Sequence[IntakeRequest]) -> list[list[IntakeResult]]:
        groups: dict[tuple[str, str], IntakeGroup] = {}
        for request in requests:
            key = (request.contract_id, request.provider_id)
            if key not in groups:
                versions = self._versions(self._load_contract(request.contract_id))
                if request.provider_id not in versions[-1].rulebook.provider_ids():
                    raise ProviderNotInContract(request.provider_id, request.contract_id)
                groups[key] = IntakeGroup(versions)
            self._check_events(groups[key].latest, request.events)
        # one read for every receipt, and one for every participant, the requests name
        recorded_before = self.existing(
            [
                receipt_id(r.contract_id, r.provider_id, e.event_id)
                for r in requests
                for e in r.events
            ]
        )
        subjects = {
            (r.contract_id, r.provider_id, e.event_id): self._subject_of(
                groups[(r.contract_id, r.provider_id)].latest, r.contract_id, r.provider_id, e
            )
            for r in requests
            for e in r.events
        }
        stored = self.load_many({stream for _, stream in subjects.values()}, Participant)
        planned = [
            self._stage(
                r, groups[(r.contract_id, r.provider_id)], recorded_before, subjects, stored
            )
            for r in requests
        ]
        for group in groups.values():
            group.new_claims = rederive(
                group.batch, group.versions, "system:intake", self.claim, self._clock(),
                self.existing,
            ).new_by_trigger  # fmt: skip
        for request, staged in zip(requests, planned, strict=True):
            group = groups[(request.contract_id, request.provider_id)]
            for incoming, outcome in staged:
                if isinstance(outcome, Participant):
                    self._issue_receipt(group, request, incoming, outcome)
        recordings = self.save(*(a for g in groups.values() for a in g.batch.aggregates()))
        positions = {
            (r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
            for r in recordings
        }
        return [
            [
                self._result(outcome, incoming, positions, groups[key].new_claims)
                for incoming, outcome in staged
            ]
            for key, staged in zip(
                ((r.contract_id, r.provider_id) for r in requests), planned, strict=True
            )
        ]

    def _stage(
        self,
        request: IntakeRequest,
        group: IntakeGroup,
        recorded_before: set[UUID],
        subjects: dict[tuple[str, str, str], tuple[str, UUID]],
        stored: dict[UUID, Participant],
    ) -> list[tuple[IncomingEvent, IntakeResult | Participant]]:
        """Record one request's new events on their participants (in the group's batch);
        events recorded before with the same body are answered as they were then."""
        planned: list[tuple[IncomingEvent, IntakeResult | Participant]] = []
        contract_id, provider_id = request.contract_id, request.provider_id
        for index, incoming in enumerate(request.events):
            replay = self._replayed(request, incoming, index, group.seen, recorded_before)
            if replay is not None:
                planned.append((incoming, replay))
                continue
            participant_id, stream = subjects[(contract_id, provider_id, incoming.event_id)]
            batch = group.batch
            if stream not in batch.participants:
                subject = group.latest.event_types[incoming.type].subject
                batch.participants[stream] = stored.get(stream) or Participant(
                    contract_id, provider_id, participant_id, subject
                )
            participant = batch.participants[stream]
            batch.actors[stream] = request.actor
            attributes, sealed = self._seal_personal(group.latest, participant, incoming)
            participant.record_event(
                event_id=incoming.event_id,
                type=incoming.type,
                occurred_on=incoming.occurred_on.isoformat(),
                attributes=attributes,
                body_sha256=incoming.body_sha256(),
                actor=request.actor,
                personal_sealed=sealed,
            )
            planned.append((incoming, participant))
        return planned

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
        request: IntakeRequest,
        incoming: IncomingEvent,
        index: int,
        seen_in_batch: dict[str, str],
        recorded_before: set[UUID],
    ) -> IntakeResult | None:
        contract_id, provider_id = request.contract_id, request.provider_id
        digest = incoming.body_sha256()
        if incoming.event_id in seen_in_batch:
            if seen_in_batch[incoming.event_id] != digest:
                raise EventIdReused(
                    f"event_id {incoming.event_id!r} appears twice with different bodies"
                )
            raise EventIdReused(f"event_id {incoming.event_id!r} appears twice in one batch")
        seen_in_batch[incoming.event_id] = digest
        key = receipt_id(contract_id, provider_id, incoming.event_id)
        receipt = self.load(key, IntakeReceipt) if key in recorded_before else None
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

    def _subject_of(
        self, rulebook: RuleBook, contract_id: str, provider_id: str, incoming: IncomingEvent
    ) -> tuple[str, UUID]:
        """(participant id, stream id) of the subject an event is about; entities are kept
        apart from people of the same reference."""
        subject = rulebook.event_types[incoming.type].subject
        reference = incoming.participant_ref
        if subject != PARTICIPANT:
            reference = f"{subject}:{reference}"
        participant_id = pseudonymise(self._pseudonym_key, contract_id, provider_id, reference)
        return participant_id, participant_stream_id(contract_id, participant_id)

    def _issue_receipt(
        self,
        group: IntakeGroup,
        request: IntakeRequest,
        incoming: IncomingEvent,
        participant: Participant,
    ) -> None:
        stream_version = _stream_version_of(participant, incoming.event_id)
        group.batch.receipts.append(
            IntakeReceipt(
                contract_id=request.contract_id,
                provider_id=request.provider_id,
                event_id=incoming.event_id,
                body_sha256=incoming.body_sha256(),
                participant_id=participant.participant_id,
                participant_stream_version=stream_version,
                claim_ids=group.new_claims.get(incoming.event_id, []),
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
            rederive(batch, versions, actor, self.claim, self._clock(), self.existing)
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


@dataclass
class IntakeGroup:
    """One (contract, provider)'s share of an intake transaction."""

    versions: list[RuleBookVersion]
    batch: Batch = field(default_factory=Batch)
    seen: dict[str, str] = field(default_factory=dict)  # event id -> body digest
    new_claims: dict[str, list[str]] = field(default_factory=dict)

    @property
    def latest(self) -> RuleBook:
        return self.versions[-1].rulebook


def _stream_version_of(participant: Participant, event_id: str) -> int:
    """The participant stream version at which an event was recorded."""
    return next(int(e["stream_version"]) for e in participant.events if e["event_id"] == event_id)
