"""Errors the claims service raises; shared.errors maps them to problem+json."""

from __future__ import annotations

from shared.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound


class ContractNotFound(NotFound):
    def __init__(self, contract_id: str) -> None:
        super().__init__(f"no contract {contract_id!r}")


class ParticipantNotFound(NotFound):
    def __init__(self, participant_id: str) -> None:
        super().__init__(f"no participant {participant_id!r} in this contract")


class ClaimNotFound(NotFound):
    def __init__(self, claim_id: str) -> None:
        super().__init__(f"no claim {claim_id!r}")


class EventNotFound(NotFound):
    def __init__(self, event_id: str) -> None:
        super().__init__(f"this provider recorded no event {event_id!r} in this contract")


class EventRetracted(Conflict):
    """The event was retracted and can no longer be corrected."""


class EventIdReused(Conflict):
    """The same provider event id was posted before with a different body."""


class ClaimTransitionRefused(Conflict):
    """The claim's state does not allow this decision."""


class ContractConflict(Conflict):
    """A registration that would contradict the contract as registered."""


class EvaluationRecorded(Conflict):
    """A cohort has its evaluation result already: a new one is posted as a correction."""


class NotTheRecorder(Forbidden):
    """An event type posted by someone other than the one the rule book names."""


class ContractClosed(Conflict):
    """The contract stopped taking events (its calendar's ``claims_until`` has passed)."""


class ProviderNotInContract(Forbidden):
    def __init__(self, provider_id: str, contract_id: str) -> None:
        super().__init__(f"provider {provider_id!r} is not a provider of contract {contract_id!r}")


class EventRejected(InvalidInput):
    """An incoming participant event does not fit the contract's event types."""


class EvidenceRefused(InvalidInput):
    """Evidence of a type the outcome does not take, or for a claim that takes no more."""


class UnknownReasonCode(InvalidInput):
    def __init__(self, code: str, known: list[str]) -> None:
        super().__init__(
            f"unknown reason code {code!r}",
            [FieldProblem("reason_code", f"expected one of {', '.join(known)}")],
        )


class DecisionKeyReused(Conflict):
    """An Idempotency-Key was used before with other decisions."""


class DecisionsRefused(Conflict):
    """At least one decision in a bulk request was refused, so none was applied."""


class DisputeRefused(Conflict):
    """The rejection can no longer be disputed."""


class PersonalDataWasErased(Conflict):
    def __init__(self, participant_id: str, attributes: list[str]) -> None:
        super().__init__(
            f"the personal data of participant {participant_id!r} was erased, so no more is "
            f"taken for it: post the event without {', '.join(attributes)}",
            extra={"attributes": attributes},
        )
