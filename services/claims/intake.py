"""Intake use cases: record providers' participant events and derive their claims.

A collaborator of the claims application, given the store, the contracts, personal data, the
populations, the receipts, the clock and the pseudonym key. A request's events, the claims
they imply and their receipts (rows beside the store: :mod:`services.claims.receipts`) are
saved in one transaction; :meth:`record_many` records several requests together (see
:mod:`services.claims.committer`), reading every receipt and participant they name with one
query each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from services.claims.commands import (
    Batch,
    IncomingEvent,
    IntakeRequest,
    IntakeResult,
    Recorder,
)
from services.claims.contracts import EVENT_DATE_TOLERANCE_DAYS, Contracts
from services.claims.derivation import rederive
from services.claims.domain import Participant, receipt_id
from services.claims.erasure import PersonalData
from services.claims.errors import (
    ContractClosed,
    EvaluationRecorded,
    EventIdReused,
    EventRejected,
    NotTheRecorder,
    ProviderNotInContract,
)
from services.claims.populations import Populations, facts_of
from services.claims.reader import Reader
from services.claims.receipts import Receipt, Receipts
from shared.errors import FieldProblem
from shared.eventstore import OutcomesApplication, retrying
from shared.identifiers import participant_stream_id, pseudonymise
from shared.rules.attributes import normalise_attributes
from shared.rules.engine import RuleBookVersion
from shared.rules.model import PARTICIPANT, RuleBook

EARLIEST_OCCURRED_ON = dt.date(1990, 1, 1)


@dataclass(frozen=True)
class IntakeDependencies:
    """What the use cases that derive claims work with: intake, corrections, closing
    populations and amendments (one value, so all are wired alike)."""

    store: OutcomesApplication
    contracts: Contracts
    reader: Reader
    personal: PersonalData
    populations: Populations
    receipts: Receipts
    clock: Callable[[], dt.datetime]


class Intake:
    def __init__(self, needs: IntakeDependencies, pseudonym_key: str) -> None:
        self._store = needs.store
        self._contracts = needs.contracts
        self._reader = needs.reader
        self._personal = needs.personal
        self._populations = needs.populations
        self._receipts = needs.receipts
        self._clock = needs.clock
        self._pseudonym_key = pseudonym_key

    def record_events(
        self,
        contract_id: str,
        provider_id: str,
        events: Sequence[IncomingEvent],
        actor: str,
        recorded_by: Recorder = "provider",
    ) -> list[IntakeResult]:
        """Record events (one, or a batch) and derive their claims, all in one transaction.
        ``recorded_by`` says who posts them: a provider, or an evaluator (evaluation results)."""
        request = IntakeRequest(contract_id, provider_id, events, actor, recorded_by)
        [results] = self.record_many([request])
        return results

    def record_many(self, requests: Sequence[IntakeRequest]) -> list[list[IntakeResult]]:
        """Record several requests' events and derive their claims in one transaction: all of
        them, or none if any is refused (see :class:`IntakeCommitter`, which combines
        concurrent requests this way and tells each its own answer)."""
        try:
            return retrying(lambda: self._record_many(requests))
        except BaseException:
            self._populations.forget()  # kept copies may hold this failed transaction's changes
            raise

    def _record_many(self, requests: Sequence[IntakeRequest]) -> list[list[IntakeResult]]:
        groups: dict[tuple[str, str], IntakeGroup] = {}
        for request in requests:
            key = (request.contract_id, request.provider_id)
            if key not in groups:
                versions = self._contracts.versions_for(request.contract_id)
                if request.provider_id not in versions[-1].rulebook.provider_ids():
                    raise ProviderNotInContract(request.provider_id, request.contract_id)
                groups[key] = IntakeGroup(versions)
            today = self._clock().date()
            check_open(groups[key].latest, today)
            check_events(groups[key].latest, request.events, request.recorded_by, today)
        # one read for every receipt, and one for every participant, the requests name
        recorded_before = self._receipts.find(
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
        stored = self._store.load_many({stream for _, stream in subjects.values()}, Participant)
        planned = [
            self._stage(
                r, groups[(r.contract_id, r.provider_id)], recorded_before, subjects, stored
            )
            for r in requests
        ]
        now = self._clock()
        for group in groups.values():
            changes = rederive(
                group.batch, group.versions, "system:intake", self._reader.claim, now,
                self._store.existing,
            )  # fmt: skip
            self._populations.count(
                group.batch, group.versions, ("system:intake", now), self._reader.claim,
                self._store.existing, changes,
            )  # fmt: skip
            group.new_claims, group.retired_claims = changes.attributed(group.recorded_now)
        for request, staged in zip(requests, planned, strict=True):
            group = groups[(request.contract_id, request.provider_id)]
            for incoming, outcome in staged:
                if isinstance(outcome, Participant):
                    self._issue_receipt(group, request, incoming, outcome)
        recordings = self._store.save(
            *(a for g in groups.values() for a in g.batch.aggregates()),
            side_rows=[self._receipts.rows([r for g in groups.values() for r in g.receipts])],
        )
        positions = {
            (r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
            for r in recordings
        }
        return [
            [
                self._result(outcome, incoming, positions, groups[key])
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
        recorded_before: dict[UUID, Receipt],
        subjects: dict[tuple[str, str, str], tuple[str, UUID]],
        stored: dict[UUID, Participant],
    ) -> list[tuple[IncomingEvent, IntakeResult | Participant]]:
        """Record one request's new events on their participants (in the group's batch);
        events recorded before with the same body are answered as they were then."""
        planned: list[tuple[IncomingEvent, IntakeResult | Participant]] = []
        contract_id, provider_id = request.contract_id, request.provider_id
        for index, incoming in enumerate(request.events):
            digest = incoming.body_sha256()
            replay = self._replayed(request, (incoming, digest), index, group.seen, recorded_before)
            if replay is not None:
                planned.append((incoming, replay))
                continue
            participant_id, stream = subjects[(contract_id, provider_id, incoming.event_id)]
            batch = group.batch
            if stream not in batch.participants:
                subject = group.latest.event_types[incoming.type].subject
                before = stored.get(stream)
                batch.participants[stream] = before or Participant(
                    contract_id, provider_id, participant_id, subject
                )
                if before is not None and group.latest.population_outcomes():
                    batch.facts_before[stream] = facts_of(group.versions, before)
            participant = batch.participants[stream]
            if group.latest.event_types[incoming.type].recorded_by == "evaluator":
                check_first_result(participant, incoming)
            batch.actors[stream] = request.actor
            group.recorded_now.setdefault(stream, []).append(incoming.event_id)
            attributes, sealed = self._personal.seal(group.latest, participant, incoming)
            participant.record_event(
                event_id=incoming.event_id,
                type=incoming.type,
                occurred_on=incoming.occurred_on.isoformat(),
                attributes=attributes,
                body_sha256=digest,
                actor=request.actor,
                personal_sealed=sealed,
            )
            planned.append((incoming, participant))
        return planned

    def _replayed(
        self,
        request: IntakeRequest,
        posted: tuple[IncomingEvent, str],  # the event and its body's digest
        index: int,
        seen_in_batch: dict[str, str],
        recorded_before: dict[UUID, Receipt],
    ) -> IntakeResult | None:
        contract_id, provider_id = request.contract_id, request.provider_id
        incoming, digest = posted
        if incoming.event_id in seen_in_batch:
            if seen_in_batch[incoming.event_id] != digest:
                raise EventIdReused(
                    f"event_id {incoming.event_id!r} appears twice with different bodies"
                )
            raise EventIdReused(f"event_id {incoming.event_id!r} appears twice in one batch")
        seen_in_batch[incoming.event_id] = digest
        receipt = recorded_before.get(receipt_id(contract_id, provider_id, incoming.event_id))
        if receipt is None:
            return None
        if receipt.body_sha256 != digest:
            raise EventIdReused(
                f"event_id {incoming.event_id!r} was recorded before with a different body",
                extra={"event_id": incoming.event_id, "index": index},
            )
        stream = participant_stream_id(contract_id, receipt.participant_id)
        position = self._store.position_of(stream, receipt.participant_stream_version)
        assert position is not None
        return IntakeResult(
            incoming.event_id,
            receipt.participant_id,
            position,
            receipt.claim_ids,
            False,
            receipt.retired_claim_ids,
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
        key = receipt_id(request.contract_id, request.provider_id, incoming.event_id)
        entry = participant.event_entry(incoming.event_id)
        receipt = Receipt(
            participant_id=participant.participant_id,
            participant_stream_version=int(entry["stream_version"]),
            body_sha256=str(entry["body_sha256"]),
            claim_ids=group.new_claims.get(incoming.event_id, []),
            retired_claim_ids=group.retired_claims.get(incoming.event_id, []),
        )
        group.receipts.append((key, receipt))

    def _result(
        self,
        outcome: IntakeResult | Participant,
        incoming: IncomingEvent,
        positions: dict[tuple[UUID, int], int],
        group: IntakeGroup,
    ) -> IntakeResult:
        if isinstance(outcome, IntakeResult):
            return outcome
        stream_version = int(outcome.event_entry(incoming.event_id)["stream_version"])
        return IntakeResult(
            event_id=incoming.event_id,
            participant_id=outcome.participant_id,
            position=positions[(outcome.id, stream_version)],
            claim_ids=group.new_claims.get(incoming.event_id, []),
            created=True,
            retired_claim_ids=group.retired_claims.get(incoming.event_id, []),
        )


def check_open(rulebook: RuleBook, today: dt.date) -> None:
    """New events are refused once the contract stops taking them (not corrections)."""
    until = rulebook.calendar.claims_until if rulebook.calendar is not None else None
    if until is not None and today > until:
        raise ContractClosed(
            f"contract {rulebook.contract_id!r} took its last events on {until.isoformat()}; "
            "corrections and retractions are still accepted"
        )


def check_events(
    rulebook: RuleBook,
    events: Sequence[IncomingEvent],
    recorded_by: Recorder,
    today: dt.date,
) -> None:
    """Each event fits the rule book: a known type, a real date, attributes as declared (which
    are normalised in place); all the problems are named at once."""
    problems: list[FieldProblem] = []
    check_recorder(rulebook, [e.type for e in events], recorded_by)
    latest_allowed = today + dt.timedelta(days=EVENT_DATE_TOLERANCE_DAYS)
    for index, incoming in enumerate(events):
        prefix = f"events.{index}." if len(events) > 1 else ""
        spec = rulebook.event_types.get(incoming.type)
        if spec is None:
            known = ", ".join(sorted(rulebook.event_types))
            problems.append(FieldProblem(f"{prefix}type", f"unknown event type; known: {known}"))
            continue
        if not EARLIEST_OCCURRED_ON <= incoming.occurred_on <= latest_allowed:
            problems.append(
                FieldProblem(f"{prefix}occurred_on", "must be a real date, not in the future")
            )
        normalised, found = normalise_attributes(spec, incoming.attributes, f"{prefix}attributes")
        problems.extend(found)
        if not found:
            incoming.attributes.clear()
            incoming.attributes.update(normalised)
    if problems:
        raise EventRejected("the event does not fit the contract's event types", problems)


def check_recorder(rulebook: RuleBook, event_types: Sequence[str], recorded_by: Recorder) -> None:
    """Providers post their events; evaluators post evaluation results, and nothing else."""
    for event_type in dict.fromkeys(event_types):
        spec = rulebook.event_types.get(event_type)
        if spec is not None and spec.recorded_by != recorded_by:
            raise NotTheRecorder(
                f"{event_type!r} is posted by the contract's {spec.recorded_by}, not by a "
                f"{recorded_by}"
            )


def check_first_result(participant: Participant, incoming: IncomingEvent) -> None:
    """One evaluation result of a type per cohort; a changed result is a correction."""
    for entry in participant.events:
        if entry["type"] == incoming.type and not entry.get("retracted"):
            raise EvaluationRecorded(
                f"this cohort has a {incoming.type!r} result already (event "
                f"{entry['event_id']!r}); post a correction of it instead"
            )


@dataclass
class IntakeGroup:
    """One (contract, provider)'s share of an intake transaction."""

    versions: list[RuleBookVersion]
    batch: Batch = field(default_factory=Batch)
    seen: dict[str, str] = field(default_factory=dict)  # event id -> body digest
    recorded_now: dict[UUID, list[str]] = field(default_factory=dict)  # stream -> event ids
    new_claims: dict[str, list[str]] = field(default_factory=dict)  # event id -> claim ids
    retired_claims: dict[str, list[str]] = field(default_factory=dict)
    receipts: list[tuple[UUID, Receipt]] = field(default_factory=list)  # issued now

    @property
    def latest(self) -> RuleBook:
        return self.versions[-1].rulebook
