"""Personal-data use cases: seal personal attributes at intake (and pseudonymise a caseworker's
reference), open them for readers, erase.

A collaborator of the claims application, given the store, the vault, the reader, the clock and
the pseudonym key. The participant's data key
lives in the :class:`~services.claims.personal.PersonalDataVault`; the event store holds only
sealed values, and the erasure itself is recorded as a new event on the participant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from services.claims.commands import IncomingEvent
from services.claims.domain import Participant
from services.claims.errors import PersonalDataWasErased
from services.claims.personal import ErasedPersonalData, PersonalDataVault, seal, unseal
from services.claims.reader import Reader
from shared.errors import FieldProblem, InvalidInput
from shared.eventstore import OutcomesApplication, retrying
from shared.identifiers import caseworker_id
from shared.rules.model import RuleBook

PersonalStatus = Literal["none", "held", "erased"]


@dataclass(frozen=True)
class PersonalView:
    """A participant's personal attributes as a reader may see them, per event id."""

    status: PersonalStatus
    by_event: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ErasureResult:
    contract_id: str
    participant_id: str
    erased_at: dt.datetime
    erased_by: str
    sealed_events: int
    first: bool


class PersonalData:
    def __init__(
        self,
        store: OutcomesApplication,
        vault: PersonalDataVault,
        reader: Reader,
        clock: Callable[[], dt.datetime],
        pseudonym_key: str,
    ) -> None:
        self._store = store
        self._vault = vault
        self._reader = reader
        self._clock = clock
        self._pseudonym_key = pseudonym_key

    def seal(
        self, rulebook: RuleBook, participant: Participant, incoming: IncomingEvent
    ) -> tuple[dict[str, Any], str | None]:
        """Split an event's attributes into those stored as they are (a caseworker's reference
        replaced by its pseudonym, ``reporting.caseworker_attribute``) and the sealed rest."""
        spec = rulebook.event_types[incoming.type].attributes
        personal = {k: v for k, v in incoming.attributes.items() if spec[k].personal}
        public = {k: v for k, v in incoming.attributes.items() if k not in personal}
        caseworker = rulebook.reporting.caseworker_attribute
        if caseworker is not None:
            event_type, name = caseworker.split(".", 1)
            if incoming.type == event_type and isinstance(public.get(name), str):
                ids = (participant.contract_id, participant.provider_id, public[name])
                public[name] = caseworker_id(self._pseudonym_key, *ids)
        if not personal:
            return public, None
        if participant.personal_data_erased:
            raise PersonalDataWasErased(participant.participant_id, sorted(personal))
        try:
            data_key = self._vault.key_for_writing(
                participant.contract_id, participant.participant_id, self._clock()
            )
        except ErasedPersonalData:
            raise PersonalDataWasErased(participant.participant_id, sorted(personal)) from None
        context = (participant.contract_id, participant.participant_id, incoming.event_id)
        return public, seal(data_key, personal, *context)

    def caseworker_ids(
        self, rulebook: RuleBook, provider_id: str, refs: list[str]
    ) -> list[tuple[str, str]]:
        """Each staff reference with the pseudonym the contract's events store it under."""
        contract_id = rulebook.contract_id
        if rulebook.reporting.caseworker_attribute is None:
            raise InvalidInput(
                f"contract {contract_id!r} names no caseworker attribute",
                [FieldProblem("caseworker_refs", "the rule book sets no caseworker_attribute")],
            )
        key = self._pseudonym_key
        return [(ref, caseworker_id(key, contract_id, provider_id, ref)) for ref in refs]

    def view(self, participant: Participant) -> PersonalView:
        sealed = {e["event_id"]: e["personal_sealed"] for e in participant.events}
        sealed = {event_id: token for event_id, token in sealed.items() if token}
        if participant.personal_data_erased:
            return PersonalView("erased")
        if not sealed:
            return PersonalView("none")
        data_key = self._vault.key_for_reading(participant.contract_id, participant.participant_id)
        if data_key is None:
            return PersonalView("erased")
        context = (participant.contract_id, participant.participant_id)
        return PersonalView(
            "held",
            {
                event_id: unseal(data_key, token, *context, event_id)
                for event_id, token in sealed.items()
            },
        )

    def erase(self, contract_id: str, participant_id: str, actor: str) -> ErasureResult:
        """Destroy the participant's data key, then record the erasure on its history.

        The key goes first: if recording then fails, the data is gone all the same and a retry
        records it. A second request changes nothing and answers with the first erasure.
        """
        self._reader.participant(contract_id, participant_id)  # 404 before anything is gone
        erasure = self._vault.erase(contract_id, participant_id, actor, self._clock())

        def record() -> int:
            participant = self._reader.participant(contract_id, participant_id)
            if participant.erase_personal_data(actor):
                self._store.save(participant)
            return sum(1 for e in participant.events if e.get("personal_sealed"))

        sealed_events = retrying(record)
        return ErasureResult(
            contract_id,
            participant_id,
            erasure.erased_at,
            erasure.erased_by,
            sealed_events,
            erasure.first,
        )
