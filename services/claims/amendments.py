"""Retroactive amendments: a rule-book version that takes effect in the past, applied only after
a second admin approves what it would change (four eyes).

1. **Propose** (an admin): the rule book is checked as a new version would be (same currency and
   reporting year, not before the contract's start), and its effect is computed, the what-if of
   today with the draft as the contract's next version in force from its own effective date
   (per provider and outcome, with up to 100 changed claims as examples). The preview has an id,
   a digest of what it says. One amendment of a contract may be open at a time.
2. **Approve** (another admin, naming the preview it read): the preview is brought up to date
   (from what was recorded since where that suffices, see :mod:`services.claims.previews`,
   else computed again from the whole feed); if it says something else now
   (events arrived and changed the effect), the approval is refused with the new preview's id
   to read and approve instead. Otherwise the version is registered, in the same transaction
   as the approval.
3. **Apply** (the service, in the background): every participant of the contract is re-derived,
   500 participants per transaction, under the version in force on each outcome's date (and
   moved between populations where its part in one changes), then every closed population. A claim
   the amendment changes is retired (voided, or marked for reversal if it was verified: the
   ledger then reverses it) and derived again under the amendment, taking the old claim's
   evidence, and verified at once if the old one was (the ledger accrues it anew). Each claim
   event names the amendment (its actor is ``amendment:<id>``). Progress is saved with each
   batch, so a restart goes on from where it got to; the amendment is ``applied`` at the end.

History is never edited: as-known-at reports before the approval show the old figures, and the
auditor's replay of the feed reproduces the new ones from the new version.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any
from uuid import UUID

from services.claims.amendment import (
    APPROVED,
    PROPOSED,
    Amendment,
    OpenAmendment,
    open_amendment_id,
)
from services.claims.claim import Claim
from services.claims.commands import Batch, Rederivation
from services.claims.derivation import ClaimSubject, carry_forward, rederive
from services.claims.domain import Participant
from services.claims.errors import ContractConflict
from services.claims.intake import IntakeDependencies
from services.claims.population import PopulationIndex, population_index_id
from services.claims.populations import facts_of
from services.claims.previews import caught_up, preview_of
from services.claims.whatif import what_if
from shared.background import LeasedWorker
from shared.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound
from shared.eventstore import retrying
from shared.feed import catalogue as feed
from shared.feed.lease import Lease
from shared.identifiers import canonical_sha256
from shared.rules.model import RuleBook

BATCH_PARTICIPANTS = 500  # participants re-derived in one transaction
SCAN_PAGE = 1000  # feed entries read at a time to find the contract's participants


class AmendmentOpen(Conflict):
    title = "Another amendment is open"


class PreviewStale(Conflict):
    title = "The preview is stale"


class AmendmentNotFound(NotFound):
    pass


class Amendments:
    """Propose, preview, approve, withdraw and apply retroactive amendments."""

    def __init__(
        self,
        needs: IntakeDependencies,
        read_lean: Callable[[int, int, Collection[str]], Sequence[Any]],
    ) -> None:
        self._needs = needs
        self._read_lean = read_lean

    def get(self, contract_id: str, amendment_id: str) -> Amendment:
        try:
            key = UUID(amendment_id)
        except ValueError:
            raise AmendmentNotFound(f"no amendment {amendment_id}") from None
        found = self._needs.store.load(key, Amendment)
        if found is None or found.contract_id != contract_id:
            raise AmendmentNotFound(f"no amendment {amendment_id}")
        return found

    def propose(self, contract_id: str, rulebook: RuleBook, actor: str, note: str) -> Amendment:
        if rulebook.contract_id != contract_id:
            raise InvalidInput(
                "the rule book is for another contract",
                [FieldProblem("contract_id", f"expected {contract_id!r}")],
            )
        self._needs.contracts.retroactive(rulebook)  # checked as a version, not registered
        preview = self._preview(rulebook, contract_id)
        return retrying(lambda: self._propose(contract_id, rulebook, actor, note, preview))

    def _propose(
        self,
        contract_id: str,
        rulebook: RuleBook,
        actor: str,
        note: str,
        preview: dict[str, Any],
    ) -> Amendment:
        index = self._needs.store.load(open_amendment_id(contract_id), OpenAmendment)
        if index is None:
            index = OpenAmendment(contract_id)
        if index.open is not None:
            raise AmendmentOpen(
                f"amendment {index.open} of this contract is open: approve or withdraw it first",
                extra={"amendment_id": index.open},
            )
        document = rulebook.canonical()
        amendment = Amendment(
            str(uuid.uuid4()), contract_id, document, canonical_sha256(document), actor,
            self._needs.clock().isoformat(), note,
        )  # fmt: skip
        amendment.add_preview(preview)
        index.opened(amendment.amendment_id)
        self._needs.store.save(amendment, index)
        return amendment

    def approve(
        self, contract_id: str, amendment_id: str, preview_id: str, actor: str
    ) -> Amendment:
        amendment = self._proposed(contract_id, amendment_id)
        if actor == amendment.proposer:
            raise Forbidden("the proposer of an amendment cannot approve it: another admin must")
        if preview_id != amendment.preview["preview_id"]:
            raise PreviewStale(
                "this is not the amendment's latest preview: read and approve that one",
                extra={"preview_id": amendment.preview["preview_id"]},
            )
        rulebook = RuleBook.model_validate(amendment.rulebook)
        versions = self._needs.contracts.versions_for(contract_id)
        fresh = caught_up(amendment.preview, self._read_lean, versions, rulebook)
        if fresh is None:  # what arrived since may change what it does: replay the whole feed
            fresh = self._preview(rulebook, contract_id)
        return retrying(lambda: self._approve(contract_id, amendment_id, fresh, actor))

    def _preview(self, rulebook: RuleBook, contract_id: str) -> dict[str, Any]:
        """The amendment's preview, with the feed position it was computed from (not part of
        its id: two previews saying the same are the same preview)."""
        position = self._needs.store.head_position()
        result = what_if(self._read_lean, rulebook, contract_id, as_amendment=True)
        return {**preview_of(result), "position": position}

    def _approve(
        self, contract_id: str, amendment_id: str, fresh: dict[str, Any], actor: str
    ) -> Amendment:
        amendment = self._proposed(contract_id, amendment_id)
        approved_id = amendment.preview["preview_id"]
        if fresh != amendment.preview:  # computed again: shown as it now stands
            amendment.add_preview(fresh)
        if fresh["preview_id"] != approved_id:
            self._needs.store.save(amendment)
            raise PreviewStale(
                "events arrived since the preview and change what the amendment does: read the "
                "new preview and approve that one",
                extra={"preview_id": fresh["preview_id"]},
            )
        contract = self._needs.contracts.retroactive(RuleBook.model_validate(amendment.rulebook))
        amendment.approve(
            actor, fresh["preview_id"], contract.current_version, self._needs.clock().isoformat()
        )
        self._needs.store.save(contract, amendment)
        return amendment

    def withdraw(self, contract_id: str, amendment_id: str, actor: str, note: str) -> Amendment:
        def command() -> Amendment:
            amendment = self._proposed(contract_id, amendment_id)
            index = self._needs.store.load(open_amendment_id(contract_id), OpenAmendment)
            assert index is not None  # a proposed amendment is the open one
            amendment.withdraw(actor, self._needs.clock().isoformat(), note)
            index.closed(amendment_id)
            self._needs.store.save(amendment, index)
            return amendment

        return retrying(command)

    def _proposed(self, contract_id: str, amendment_id: str) -> Amendment:
        amendment = self.get(contract_id, amendment_id)
        if amendment.status != PROPOSED:
            raise ContractConflict(f"the amendment is {amendment.status}, not proposed")
        return amendment

    # ---- applying ------------------------------------------------------------------------------
    def pending(self, contract_ids: Collection[str]) -> list[tuple[str, str]]:
        """(contract, amendment) of every approved amendment not yet fully applied."""
        found = []
        for contract_id in contract_ids:
            index = self._needs.store.load(open_amendment_id(contract_id), OpenAmendment)
            if index is not None and index.open is not None:
                amendment = self.get(contract_id, index.open)
                if amendment.status == APPROVED:
                    found.append((contract_id, index.open))
        return found

    def apply_batch(self, contract_id: str, amendment_id: str) -> bool:
        """Re-derive the next batch of the contract's participants; False once all are done
        (the amendment is then applied and the contract's next amendment may be proposed)."""
        return retrying(lambda: self._apply_batch(contract_id, amendment_id))

    def _apply_batch(self, contract_id: str, amendment_id: str) -> bool:
        amendment = self.get(contract_id, amendment_id)
        if amendment.status != APPROVED:
            return False
        streams, through = self._next_participants(contract_id, amendment.through)
        batch = Batch()
        examined = 0  # participants looked at (0: this batch is of populations)
        if streams or through != amendment.through:
            loaded = self._needs.store.load_many(streams, Participant)
            examined = len(loaded)
            effective = RuleBook.model_validate(amendment.rulebook).effective_from
            # a participant with no event on or after the amendment's date has every claim and
            # every part in a population under the versions before it: nothing can change
            batch.participants = {
                stream: participant
                for stream, participant in loaded.items()
                if any(event.occurred_on >= effective for event in participant.history())
            }
            population_after = amendment.population_after
        else:  # every participant done: then the populations that have closed
            population_after = self._next_populations(contract_id, amendment, batch)
            if not batch.populations:
                index = self._needs.store.load(open_amendment_id(contract_id), OpenAmendment)
                assert index is not None
                amendment.finish(self._needs.clock().isoformat())
                index.closed(amendment_id)
                self._needs.store.save(amendment, index)
                return False
        try:
            self._rederive(amendment, batch, (through, population_after), examined)
        except BaseException:
            self._needs.populations.forget(batch.populations)
            raise
        return True

    def _rederive(
        self, amendment: Amendment, batch: Batch, place: tuple[int, str], examined: int
    ) -> None:
        """Re-derive the batch's participants (moving them between populations where the
        amendment changes their part) or its closed populations, under the versions now;
        save them with how far the amendment got (``place``)."""
        subjects: list[ClaimSubject] = [*batch.participants.values(), *batch.populations.values()]
        linked = [
            UUID(link["claim_id"]) for subject in subjects for link in subject.claims.values()
        ]
        claims = self._needs.store.load_many(linked, Claim)  # one query per 500, not one a claim

        def load_claim(claim_id: UUID) -> Claim:
            found = claims.get(claim_id)
            return found if found is not None else self._needs.reader.claim(claim_id)

        versions = self._needs.contracts.versions_for(amendment.contract_id)
        before = [v for v in versions if v.version != amendment.rule_version]
        now = self._needs.clock()
        context = (amendment.actor, now)
        reason = (
            f"re-derived under amendment {amendment.amendment_id} (rule-book version "
            f"{amendment.rule_version}), approved by {amendment.approver}"
        )
        existing = self._needs.store.existing
        if examined:
            for stream, participant in batch.participants.items():
                batch.facts_before[stream] = facts_of(before, participant)
            result = rederive(batch, versions, amendment.actor, load_claim, now, existing, reason)
            self._needs.populations.count(batch, versions, context, load_claim, existing, result)
        else:
            result = Rederivation()
            touched = {key: key for key in batch.populations}
            self._needs.populations.derive(
                batch, versions, touched, context, load_claim, existing, result, reason
            )
        reverified = carry_forward(batch, result, amendment.actor, now, reason)
        through, population_after = place
        amendment.progressed(
            through, examined, len(result.retired), len(result.derived()), len(reverified),
            0 if examined else len(batch.populations), population_after,
        )  # fmt: skip
        self._needs.store.save(*batch.aggregates(), amendment)

    def _next_populations(self, contract_id: str, amendment: Amendment, batch: Batch) -> str:
        """Into ``batch``: up to a batch of the contract's populations closed by now, after the
        last one done (in the order they close); the place to go on from."""
        index = self._needs.store.load(population_index_id(contract_id), PopulationIndex)
        if index is None:
            return amendment.population_after
        today = self._needs.clock().date()
        due = sorted(
            f"{closes_on} {population}"
            for population, closes_on in index.populations.items()
            if dt.date.fromisoformat(closes_on) <= today
        )
        after = amendment.population_after
        for place in [p for p in due if p > after][:BATCH_PARTICIPANTS]:
            population = self._needs.populations.get(UUID(place.split(" ")[1]))
            if population is not None:
                batch.populations[population.id] = population
            after = place
        return after

    def _next_participants(self, contract_id: str, after: int) -> tuple[list[UUID], int]:
        """Up to a batch of the contract's participants registered after position ``after``,
        and the position to go on from."""
        found: list[UUID] = []
        through = after
        while len(found) < BATCH_PARTICIPANTS:
            page = self._read_lean(through, SCAN_PAGE, {feed.ParticipantRegistered.TYPE})
            if not page:
                break
            for entry in page:
                if feed.ParticipantRegistered.of(entry).contract_id == contract_id:
                    found.append(UUID(entry.stream_id))
                through = entry.position
                if len(found) == BATCH_PARTICIPANTS:
                    break
        return found, through


class AmendmentApplier(LeasedWorker):
    """Applies approved amendments in the background, one replica at a time (a lease)."""

    name = "amendments"

    def __init__(
        self,
        amendments: Amendments,
        contract_ids: Callable[[], list[str]],
        lease: Lease,
        interval_s: float = 1.0,
    ) -> None:
        super().__init__(lease, interval_s)
        self._amendments = amendments
        self._contract_ids = contract_ids

    def work(self) -> None:
        """Apply every approved amendment to its end (a batch a transaction)."""
        for contract_id, amendment_id in self._amendments.pending(self._contract_ids()):
            while not self.stopping.is_set() and self._amendments.apply_batch(
                contract_id, amendment_id
            ):
                pass
