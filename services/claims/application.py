"""Claims use cases: register contracts, record participant events, decide claims.

Each use case loads what it needs, changes aggregates, and ends in exactly one ``save``, so a
recorded event and the claims it implies are stored in one transaction and can never be seen
apart. Conflicting concurrent writes are retried a bounded number of times.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from services.claims.commands import (
    Batch,
    ClosingResult,
    CorrectionResult,
    IncomingEvent,
    Recorder,
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
    EventNotFound,
    EventRejected,
    EventRetracted,
    ParticipantNotFound,
    ProviderNotInContract,
)
from services.claims.intake import EVENT_DATE_TOLERANCE_DAYS, IntakeUseCases, check_recorder
from services.claims.personal import PersonalDataVault
from services.claims.population import PopulationIndex, population_index_id
from services.claims.populations import Populations, facts_of
from services.claims.verification import VerificationUseCases, retrying
from shared.collector import fewer_collections
from shared.errors import FieldProblem
from shared.eventstore import OutcomesApplication
from shared.identifiers import stable_id
from shared.rules.engine import Derivation, RuleBookVersion, derive
from shared.rules.model import RuleBook

MAX_KEPT_CONTRACTS = 256
MAX_KEPT_RULEBOOKS = 1024
T = TypeVar("T")


class ClaimsApplication(
    IntakeUseCases, PersonalDataUseCases, VerificationUseCases, OutcomesApplication
):
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
        self._populations = Populations(self.load, self._has_newer)

    def close(self) -> None:
        super().close()
        self._vault.close()

    # ---- contracts -----------------------------------------------------------------------
    def register_contract(self, rulebook: RuleBook) -> tuple[int, bool]:
        """Register a rule book, or a new version of it. Returns (version, created)."""
        with fewer_collections():  # a large rule book is many objects to dump and store
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
        if rulebook.year_starts != latest.year_starts:
            raise ContractConflict(
                "a new version cannot move the start of the reporting year: periods already "
                "reported, capped and limited would change their meaning"
            )
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

    # ---- corrections ----------------------------------------------------------------------------
    def correct_event(
        self,
        contract_id: str,
        provider_id: str,
        correction: IncomingEvent,
        actor: str,
        reason: str,
        recorded_by: Recorder = "provider",
    ) -> CorrectionResult:
        """Replace a recorded event's body; claims are re-derived in the same transaction."""
        event_id = correction.event_id
        return retrying(
            lambda: self._amend_event(
                contract_id, provider_id, event_id, (actor, recorded_by), correction, reason
            )
        )

    def retract_event(
        self,
        contract_id: str,
        provider_id: str,
        event_id: str,
        actor: str,
        reason: str,
        recorded_by: Recorder = "provider",
    ) -> CorrectionResult:
        """Withdraw a recorded event; claims it supported are voided or marked for reversal."""
        return retrying(
            lambda: self._amend_event(
                contract_id, provider_id, event_id, (actor, recorded_by), None, reason
            )
        )

    def _amend_event(
        self,
        contract_id: str,
        provider_id: str,
        event_id: str,
        caller: tuple[str, Recorder],
        correction: IncomingEvent | None,
        reason: str,
    ) -> CorrectionResult:
        actor, recorded_by = caller
        contract = self._load_contract(contract_id)
        versions = self._versions(contract)
        if provider_id not in versions[-1].rulebook.provider_ids():
            raise ProviderNotInContract(provider_id, contract_id)
        receipt = self.load(receipt_id(contract_id, provider_id, event_id), IntakeReceipt)
        if receipt is None:
            raise EventNotFound(event_id)
        participant = self.participant(contract_id, receipt.participant_id)
        recorded_type = participant.event_entry(event_id)["type"]
        check_recorder(versions[-1].rulebook, [recorded_type], recorded_by)
        facts_before = facts_of(versions, participant)
        if correction is None:
            changed = participant.retract_event(event_id, actor, reason)
        else:
            self._check_events(versions[-1].rulebook, [correction], recorded_by)
            self._check_same_subject(versions[-1].rulebook, participant, correction)
            changed = self._apply_correction(
                versions[-1].rulebook, participant, correction, actor, reason
            )
        batch = Batch(participants={participant.id: participant})
        batch.facts_before[participant.id] = facts_before
        outcome = Rederivation()
        if changed:
            now = self._clock()
            outcome = rederive(batch, versions, actor, self.claim, now, self.existing)
            self._populations.count(
                batch, versions, (actor, now), self.claim, self.existing, outcome
            )
        try:
            self.save(*batch.aggregates())
        except BaseException:
            self._populations.forget(batch.populations)
            raise
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

    # ---- populations ----------------------------------------------------------------------------
    def close_populations(self, contract_id: str, actor: str, limit: int = 500) -> ClosingResult:
        """Derive the claims of the contract's populations whose period has closed since the
        last call (at most ``limit`` per call, in one transaction). Idempotent: a closed
        population is re-derived by the events that change it, not here."""
        try:
            return retrying(lambda: self._close_populations(contract_id, actor, limit))
        except BaseException:
            self._populations.forget()
            raise

    def _close_populations(self, contract_id: str, actor: str, limit: int) -> ClosingResult:
        versions = self._versions(self._load_contract(contract_id))
        now = self._clock()
        index = self.load(population_index_id(contract_id), PopulationIndex)
        batch = Batch()
        for population_key in index.due(now.date()) if index is not None else []:
            population = self._populations.get(population_key)
            if population is not None and not population.closed:
                batch.populations[population_key] = population
                if len(batch.populations) == limit:
                    break
        changes = Rederivation()
        touched = {key: key for key in batch.populations}
        self._populations.derive(
            batch, versions, touched, (actor, now), self.claim, self.existing, changes
        )
        self.save(*batch.aggregates())
        return ClosingResult(len(batch.populations), changes.derived())

    def _has_newer(self, aggregate_id: UUID, version: int) -> bool:
        return bool(self.recorder.select_events(aggregate_id, gt=version, limit=1))

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
