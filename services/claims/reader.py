"""Lookups the claims use cases and routes share: a participant, a claim, what a history earns.

Each raises the service's not-found error instead of answering ``None``, so a route can call it
and let the error handler answer 404.
"""

from __future__ import annotations

from uuid import UUID

from services.claims.claim import Claim
from services.claims.contracts import Contracts
from services.claims.domain import Participant
from services.claims.errors import ClaimNotFound, ParticipantNotFound
from shared.eventstore import OutcomesApplication
from shared.identifiers import participant_stream_id
from shared.rules.engine import Derivation, derive


class Reader:
    def __init__(self, store: OutcomesApplication, contracts: Contracts) -> None:
        self._store = store
        self._contracts = contracts

    def participant(self, contract_id: str, participant_id: str) -> Participant:
        self._contracts.get(contract_id)  # an unknown contract is named as such
        stream = participant_stream_id(contract_id, participant_id)
        participant = self._store.load(stream, Participant)
        if participant is None:
            raise ParticipantNotFound(participant_id)
        return participant

    def claim(self, claim_id: UUID) -> Claim:
        claim = self._store.load(claim_id, Claim)
        if claim is None:
            raise ClaimNotFound(str(claim_id))
        return claim

    def derivation(self, participant: Participant) -> Derivation:
        """What the participant's history earns now, and whether the participant is eligible."""
        return derive(self._contracts.versions_for(participant.contract_id), participant.history())
