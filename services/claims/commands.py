"""What the claims use cases take and give back: plain values, no behaviour beyond hashing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from services.claims.claim import Claim
from services.claims.domain import Participant
from services.claims.population import Population, PopulationIndex
from shared.identifiers import canonical_sha256
from shared.rules.populations import MemberFact


@dataclass(frozen=True)
class IncomingEvent:
    event_id: str
    participant_ref: str
    type: str
    occurred_on: dt.date
    attributes: dict[str, Any]

    def body_sha256(self) -> str:
        return canonical_sha256(
            {
                "event_id": self.event_id,
                "participant_ref": self.participant_ref,
                "type": self.type,
                "occurred_on": self.occurred_on.isoformat(),
                "attributes": self.attributes,
            }
        )


@dataclass(frozen=True)
class IntakeResult:
    event_id: str
    participant_id: str
    position: int
    claim_ids: list[str]
    created: bool
    retired_claim_ids: list[str] = field(default_factory=list)


Recorder = Literal["provider", "evaluator"]  # who posts an event type (the rule book says)


@dataclass(frozen=True)
class IntakeRequest:
    """One provider's request to record events (one, or a batch of up to 1,000)."""

    contract_id: str
    provider_id: str
    events: Sequence[IncomingEvent]
    actor: str
    recorded_by: Recorder = "provider"


@dataclass(frozen=True)
class ClosingResult:
    closed: int  # populations derived for the first time
    claim_ids: list[str]


@dataclass(frozen=True)
class CorrectionResult:
    event_id: str
    participant_id: str
    changed: bool
    derived_claim_ids: list[str]
    retired_claim_ids: list[str]


@dataclass
class Rederivation:
    """What a re-derivation changed: new claims by the event that triggered them, retired
    claims, and both per participant stream (so an answer can name what each request caused)."""

    new_by_trigger: dict[str, list[str]] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)
    new_by_participant: dict[UUID, list[tuple[str, str]]] = field(default_factory=dict)
    retired_by_participant: dict[UUID, list[str]] = field(default_factory=dict)

    def derived(self) -> list[str]:
        return [claim_id for ids in self.new_by_trigger.values() for claim_id in ids]

    def attributed(
        self, recorded_now: dict[UUID, list[str]]
    ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """(derived, retired) claim ids per event recorded now. A claim goes to the event
        that triggered it when that event was recorded now, otherwise (a late earlier event
        completed an older trigger's history) to the participant's last event recorded now;
        so is every retirement."""
        derived: dict[str, list[str]] = {}
        retired: dict[str, list[str]] = {}
        for stream, event_ids in recorded_now.items():
            if not event_ids:
                continue
            last = event_ids[-1]
            for trigger_event_id, claim_id in self.new_by_participant.get(stream, []):
                owner = trigger_event_id if trigger_event_id in event_ids else last
                derived.setdefault(owner, []).append(claim_id)
            if self.retired_by_participant.get(stream):
                retired.setdefault(last, []).extend(self.retired_by_participant[stream])
        return derived, retired


@dataclass
class Batch:
    """Aggregates touched by one intake command, saved together at the end. ``actors`` names,
    per participant, who changed it (when several requests share one batch)."""

    participants: dict[UUID, Participant] = field(default_factory=dict)
    claims: dict[UUID, Claim] = field(default_factory=dict)
    actors: dict[UUID, str] = field(default_factory=dict)
    # populations: each participant's facts before the change, and the populations it moved
    facts_before: dict[UUID, dict[str, MemberFact | None]] = field(default_factory=dict)
    populations: dict[UUID, Population] = field(default_factory=dict)
    population_index: PopulationIndex | None = None

    def aggregates(self) -> list[Any]:
        index = [self.population_index] if self.population_index is not None else []
        return [
            *self.participants.values(),
            *self.claims.values(),
            *self.populations.values(),
            *index,
        ]
