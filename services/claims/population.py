"""Populations: a group's members in a period, kept as facts, and the claim they earn.

A :class:`Population` is one provider's group (a hospital) in one period of one population
outcome. It keeps each member's fact (from :func:`shared.rules.populations.member_fact`), so its
figures are recomputed from the facts, never by replaying its members' histories, and it links
the claim it earns like a participant does. A :class:`PopulationIndex` lists a contract's
populations with the day each closes, so closing can find them. Neither is on the public feed:
an auditor recomputes both from participants' histories.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.claims import claim_links
from services.claims.claim_links import LinksClaims
from shared.identifiers import stable_id
from shared.rules.populations import Figures, MemberFact, population_subject


def population_id(
    contract_id: str, provider_id: str, outcome_id: str, group: str, period: str
) -> UUID:
    return stable_id("population", contract_id, provider_id, outcome_id, group, period)


class Population(LinksClaims, Aggregate):
    class Opened(Aggregate.Created):
        contract_id: str
        provider_id: str
        outcome_id: str
        group: str
        period: str
        closes_on: str

    class MemberCounted(Aggregate.Event):
        participant_id: str
        fact: dict[str, Any] | None

    class Closed(Aggregate.Event):
        pass

    ClaimLinked = claim_links.ClaimLinked
    ClaimUnlinked = claim_links.ClaimUnlinked

    @staticmethod
    def create_id(
        contract_id: str, provider_id: str, outcome_id: str, group: str, period: str, **_: Any
    ) -> UUID:
        return population_id(contract_id, provider_id, outcome_id, group, period)

    @event(Opened)
    def __init__(
        self,
        contract_id: str,
        provider_id: str,
        outcome_id: str,
        group: str,
        period: str,
        closes_on: str,
    ) -> None:
        self.contract_id = contract_id
        self.provider_id = provider_id
        self.outcome_id = outcome_id
        self.group = group
        self.period = period
        self.closes_on = closes_on
        self.members: dict[str, dict[str, Any]] = {}
        self.claims: dict[str, dict[str, str]] = {}
        self.closed = False

    @property
    def participant_id(self) -> str:
        """The subject id its claims carry."""
        return population_subject(self.provider_id, self.outcome_id, self.group, self.period)

    def count(self, participant_id: str, fact: MemberFact | None) -> bool:
        """Set (or, with None, remove) a member's fact; False when nothing changed."""
        wanted = fact.as_json() if fact is not None else None
        if self.members.get(participant_id) == wanted:
            return False
        self._count(participant_id, wanted)
        return True

    @event(MemberCounted)
    def _count(self, participant_id: str, fact: dict[str, Any] | None) -> None:
        if fact is None:
            self.members.pop(participant_id, None)
        else:
            self.members[participant_id] = fact

    def figures(self) -> Figures:
        return Figures.of(MemberFact.from_json(fact) for fact in self.members.values())

    def is_due(self, today: dt.date) -> bool:
        """Its period has closed: its claim is derived (and re-derived on every change)."""
        return today >= dt.date.fromisoformat(self.closes_on)

    @event(Closed)
    def close(self) -> None:
        self.closed = True


class PopulationIndex(Aggregate):
    """A contract's populations and the day each closes."""

    class Started(Aggregate.Created):
        contract_id: str

    class Listed(Aggregate.Event):
        population_id: str
        closes_on: str

    @staticmethod
    def create_id(contract_id: str) -> UUID:
        return population_index_id(contract_id)

    @event(Started)
    def __init__(self, contract_id: str) -> None:
        self.contract_id = contract_id
        self.populations: dict[str, str] = {}  # population id -> closes on

    @event(Listed)
    def add(self, population_id: str, closes_on: str) -> None:
        self.populations[population_id] = closes_on

    def due(self, today: dt.date) -> list[UUID]:
        return [
            UUID(population)
            for population, closes_on in sorted(self.populations.items(), key=lambda p: p[1])
            if dt.date.fromisoformat(closes_on) <= today
        ]


def population_index_id(contract_id: str) -> UUID:
    return stable_id("population-index", contract_id)
