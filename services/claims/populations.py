"""Population use cases: count members as their histories change, and derive what groups earn.

A collaborator of the claims application, given its dependencies (how to load an aggregate,
whether the store holds a newer version of one). It works inside the caller's transaction: it
adds the populations it changed, and their claims, to the caller's :class:`Batch`, so a
participant's event, its population's new figures and the claim they earn are saved together.

Populations are kept in memory between requests (a large one holds a fact per member) and
checked against the store before each use; a kept copy is dropped whenever a transaction that
touched it fails, so no unsaved change is ever reused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from typing import Any
from uuid import UUID

from services.claims.claim import Claim
from services.claims.commands import Batch, Rederivation
from services.claims.derivation import NO_LONGER_SUPPORTED, Derived, reconcile
from services.claims.domain import Participant
from services.claims.population import (
    Population,
    PopulationIndex,
    population_id,
    population_index_id,
)
from shared.rules.engine import RuleBookVersion
from shared.rules.populations import MemberFact, closes_on, derive_population, member_fact

Facts = dict[str, MemberFact | None]  # population outcome id -> the member's fact


def _where(fact: MemberFact) -> tuple[str, str]:
    return fact.group, fact.period


def facts_of(versions: Sequence[RuleBookVersion], participant: Participant) -> Facts:
    """The participant's part in each population outcome of the contract."""
    history = participant.history()
    return {
        outcome.id: member_fact(versions, outcome.id, history)
        for outcome in versions[-1].rulebook.population_outcomes()
    }


class Populations:
    def __init__(
        self,
        load: Callable[[UUID, type[Any]], Any],
        has_newer: Callable[[UUID, int], bool],
    ) -> None:
        self._load = load
        self._has_newer = has_newer
        self._kept: dict[UUID, Population] = {}

    # ---- kept copies ---------------------------------------------------------------------------
    def get(self, population: UUID) -> Population | None:
        kept = self._kept.get(population)
        if kept is not None and not self._has_newer(population, kept.version):
            return kept
        loaded: Population | None = self._load(population, Population)
        if loaded is not None:
            self._kept[population] = loaded
        return loaded

    def forget(self, populations: Collection[UUID] | None = None) -> None:
        """Drop kept copies (all of them by default): after a failed transaction."""
        if populations is None:
            self._kept.clear()
        for population in populations or ():
            self._kept.pop(population, None)

    # ---- counting and deriving -----------------------------------------------------------------
    def count(
        self,
        batch: Batch,
        versions: list[RuleBookVersion],
        context: tuple[str, dt.datetime],
        load_claim: Callable[[UUID], Claim],
        existing: Callable[[Collection[UUID]], set[UUID]],
        result: Rederivation,
    ) -> None:
        """Move each changed participant into (or out of) its populations, then re-derive
        every touched population that has closed. Adds to ``batch`` and ``result``."""
        if not versions[-1].rulebook.population_outcomes():
            return
        touched: dict[UUID, UUID] = {}  # population -> the participant stream that changed it
        for stream, participant in batch.participants.items():
            before = batch.facts_before.get(stream, {})
            for outcome_id, after in facts_of(versions, participant).items():
                place = (participant, outcome_id)
                moved = self._move(batch, versions, place, before.get(outcome_id), after)
                touched.update(dict.fromkeys(moved, stream))
        self.derive(batch, versions, touched, context, load_claim, existing, result)

    def _move(
        self,
        batch: Batch,
        versions: list[RuleBookVersion],
        place: tuple[Participant, str],
        before: MemberFact | None,
        after: MemberFact | None,
    ) -> list[UUID]:
        """Count a member's new fact; take it out of the population it left, if it moved."""
        participant, _ = place
        changed = []
        if before is not None and (after is None or _where(before) != _where(after)):
            left = self._population(batch, versions, place, before, open_it=False)
            if left is not None and left.count(participant.participant_id, None):
                changed.append(left.id)
        if after is not None:
            joined = self._population(batch, versions, place, after, open_it=True)
            assert joined is not None
            if joined.count(participant.participant_id, after):
                changed.append(joined.id)
        return changed

    def _population(
        self,
        batch: Batch,
        versions: list[RuleBookVersion],
        place: tuple[Participant, str],
        fact: MemberFact,
        open_it: bool,
    ) -> Population | None:
        """The population a fact places a member in (from the batch, kept, stored or new)."""
        participant, outcome_id = place
        contract_id, provider_id = participant.contract_id, participant.provider_id
        key = population_id(contract_id, provider_id, outcome_id, fact.group, fact.period)
        population = batch.populations.get(key) or self.get(key)
        if population is None and open_it:
            book = versions[-1].rulebook
            spec = next(o.population for o in book.population_outcomes() if o.id == outcome_id)
            assert spec is not None
            closes = closes_on(spec, fact.period, book.year_starts).isoformat()
            population = Population(
                contract_id, provider_id, outcome_id, fact.group, fact.period, closes
            )
            self._index(batch, contract_id).add(str(population.id), closes)
        if population is not None:
            batch.populations[key] = population
        return population

    def _index(self, batch: Batch, contract_id: str) -> PopulationIndex:
        if batch.population_index is None:
            stored = self._load(population_index_id(contract_id), PopulationIndex)
            batch.population_index = stored or PopulationIndex(contract_id)
        return batch.population_index

    def derive(
        self,
        batch: Batch,
        versions: list[RuleBookVersion],
        touched: dict[UUID, UUID],
        context: tuple[str, dt.datetime],
        load_claim: Callable[[UUID], Claim],
        existing: Callable[[Collection[UUID]], set[UUID]],
        result: Rederivation,
        reason: str = NO_LONGER_SUPPORTED,
    ) -> None:
        """Re-derive the touched populations whose period has closed."""
        derived: list[Derived] = []
        today = context[1].date()
        for population_key, owner in touched.items():
            population = batch.populations[population_key]
            if not population.is_due(today):
                continue
            if not population.closed:
                population.close()
            claim = derive_population(
                versions,
                population.outcome_id,
                population.group,
                population.period,
                population.figures(),
            )
            fresh = {claim.claim_key: claim} if claim is not None else {}
            derived.append((population, fresh, owner))
        if derived:
            reconcile(derived, batch, versions, context, load_claim, existing, result, reason)
