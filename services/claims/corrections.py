"""Corrections: replace a recorded event's body, or retract it, and re-derive its claims.

A collaborator of the claims application, wired like intake. The participant's history keeps
both the original and the correction (history is never edited); its claims are re-derived from
the corrected history in the same transaction, so a claim the correction no longer supports is
voided or marked for reversal at once.
"""

from __future__ import annotations

from services.claims.commands import Batch, CorrectionResult, IncomingEvent, Recorder, Rederivation
from services.claims.derivation import rederive
from services.claims.domain import EventWithdrawn, Participant, receipt_id
from services.claims.errors import (
    EventNotFound,
    EventRejected,
    EventRetracted,
    ProviderNotInContract,
)
from services.claims.intake import IntakeDependencies, check_events, check_recorder
from services.claims.populations import facts_of
from shared.errors import FieldProblem
from shared.eventstore import retrying
from shared.rules.model import RuleBook


class Corrections:
    def __init__(self, needs: IntakeDependencies) -> None:
        self._needs = needs

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
        versions = self._needs.contracts.versions_for(contract_id)
        if provider_id not in versions[-1].rulebook.provider_ids():
            raise ProviderNotInContract(provider_id, contract_id)
        receipt = self._needs.receipts.get(receipt_id(contract_id, provider_id, event_id))
        if receipt is None:
            raise EventNotFound(event_id)
        participant = self._needs.reader.participant(contract_id, receipt.participant_id)
        recorded_type = participant.event_entry(event_id)["type"]
        check_recorder(versions[-1].rulebook, [recorded_type], recorded_by)
        facts_before = facts_of(versions, participant)
        if correction is None:
            changed = participant.retract_event(event_id, actor, reason)
        else:
            latest = versions[-1].rulebook
            check_events(latest, [correction], recorded_by, self._needs.clock().date())
            _check_same_subject(latest, participant, correction)
            changed = self._apply_correction(latest, participant, correction, actor, reason)
        batch = Batch(participants={participant.id: participant})
        batch.facts_before[participant.id] = facts_before
        outcome = Rederivation()
        if changed:
            now = self._needs.clock()
            claim, existing = self._needs.reader.claim, self._needs.store.existing
            outcome = rederive(batch, versions, actor, claim, now, existing)
            self._needs.populations.count(batch, versions, (actor, now), claim, existing, outcome)
        try:
            self._needs.store.save(*batch.aggregates())
        except BaseException:
            self._needs.populations.forget(batch.populations)
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
            attributes, sealed = self._needs.personal.seal(rulebook, participant, correction)
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
