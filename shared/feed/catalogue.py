"""The public feed catalogue: every event type any service publishes, defined once.

Each type is a payload model: its stable public name (``TYPE``), its schema version
(``SCHEMA_VERSION``), the stream it belongs to, and its fields, typed. Producers map their
domain events to these models (a test checks that every producer's fields are the model's),
and every consumer (the ledger, metrics, the auditor, what-if) reads an entry through its
model, ``ClaimVerified.of(entry).booking.amount_minor``, never by string keys. The ledger's
chart of accounts is in :mod:`shared.feed.accounts`; typed views of a published rule book in
:mod:`shared.feed.views`. ``docs/events.md``
is generated from this module (``python -m shared.feed.catalogue``) and golden files under
``tests/golden/feed/`` pin each type's fields, so a renamed field fails a test instead of
silently changing the feed. A change of shape adds a schema version, never edits one.

Pure: pydantic only, no web framework or database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field

from shared.feed.views import Terms


class HasData(Protocol):
    @property
    def data(self) -> Mapping[str, Any]: ...


class HasTypeAndData(HasData, Protocol):
    @property
    def type(self) -> str: ...


class HasEntry(HasTypeAndData, Protocol):
    """A feed entry (or a lean one, for in-process replays): what a model of a feed reads."""

    @property
    def stream_id(self) -> str: ...

    @property
    def recorded_at(self) -> dt.datetime: ...


class Payload(BaseModel):
    """The ``data`` of one public event type, at one schema version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int]
    STREAM: ClassVar[str]

    @classmethod
    def of(cls, entry: HasData) -> Self:
        """An entry's payload, checked against this type."""
        return cls.model_validate(entry.data)


class Part(BaseModel):
    """A structured value inside a payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- claims: contracts ---------------------------------------------------------------------------
class RuleBookPublished(Payload):
    """A version of a contract's rule book, published whole."""

    STREAM = "contract"

    rulebook: dict[str, Any] = Field(description="the whole validated rule-book document")
    document_sha256: str = Field(description="SHA-256 of the canonical document")

    def terms(self) -> Terms:
        return Terms.model_validate(self.rulebook)

    @property
    def rulebook_version(self) -> int:
        raise NotImplementedError


class ContractRegistered(RuleBookPublished):
    """A contract's first rule book."""

    TYPE = "contract.registered"
    SCHEMA_VERSION = 1

    contract_id: str

    @property
    def rulebook_version(self) -> int:
        return 1


class ContractAmended(RuleBookPublished):
    """A new version of a contract's rule book."""

    TYPE = "contract.amended"
    SCHEMA_VERSION = 1

    version: int = Field(description="the new version's number (2 for the first amendment)")

    @property
    def rulebook_version(self) -> int:
        return self.version


# ---- claims: participants ------------------------------------------------------------------------
class ParticipantRegistered(Payload):
    """A subject's first event on a contract: a person or an entity (a school, a hospital)."""

    TYPE = "participant.registered"
    SCHEMA_VERSION = 1
    STREAM = "participant"

    contract_id: str
    provider_id: str
    participant_id: str = Field(description="pseudonymous: never the provider's reference")
    subject: str = Field(description="`participant`, or the entity kind the rule book names")


class EventRecorded(Payload):
    """A provider's (or an evaluator's) event about a subject."""

    TYPE = "participant.event_recorded"
    SCHEMA_VERSION = 2
    STREAM = "participant"

    event_id: str = Field(description="the provider's own id for the event")
    type: str = Field(description="an event type of the rule book")
    occurred_on: str = Field(description="ISO date the event happened")
    attributes: dict[str, Any] = Field(description="as the rule book declares; never personal")
    body_sha256: str = Field(description="SHA-256 of the event as posted")
    actor: str = Field(
        description="who: `provider:<id>`, `verifier:<id>`, `admin:<id>`, `system:…`"
    )
    personal_sealed: str | None = Field(
        default=None,
        description="the personal attributes sealed with the participant's own key (`pd1.`…), "
        "or null; new in version 2",
    )


class EventCorrected(Payload):
    """A recorded event's body replaced; the history keeps both."""

    TYPE = "participant.event_corrected"
    SCHEMA_VERSION = 2
    STREAM = "participant"

    event_id: str = Field(description="the corrected event's id")
    type: str
    occurred_on: str
    attributes: dict[str, Any] = Field(description="the new body; never personal")
    body_sha256: str
    actor: str = Field(
        description="who: `provider:<id>`, `verifier:<id>`, `admin:<id>`, `system:…`"
    )
    reason: str = Field(description="why, in the corrector's words")
    personal_sealed: str | None = Field(default=None, description="as in `event_recorded`")


class EventRetracted(Payload):
    """A recorded event withdrawn: it no longer counts for anything."""

    TYPE = "participant.event_retracted"
    SCHEMA_VERSION = 1
    STREAM = "participant"

    event_id: str
    actor: str = Field(
        description="who: `provider:<id>`, `verifier:<id>`, `admin:<id>`, `system:…`"
    )
    reason: str = Field(description="why, in the corrector's words")


class PersonalDataErased(Payload):
    """The participant's data key destroyed: its sealed values can never be opened again."""

    TYPE = "participant.personal_data_erased"
    SCHEMA_VERSION = 1
    STREAM = "participant"

    actor: str = Field(
        description="who: `provider:<id>`, `verifier:<id>`, `admin:<id>`, `system:…`"
    )
    sealed_events: int = Field(description="how many of its events held sealed values")


# ---- claims: claims ------------------------------------------------------------------------------
class ClaimDerived(Payload):
    """An outcome claim derived from a subject's history under a rule-book version."""

    TYPE = "claim.derived"
    SCHEMA_VERSION = 1
    STREAM = "claim"

    contract_id: str
    participant_id: str
    claim_key: str = Field(description="the outcome and, for repeatable ones, which occurrence")
    fingerprint: str = Field(description="digest of what was derived; part of the claim's id")
    provider_id: str
    outcome_id: str
    occurred_on: str = Field(description="ISO date the outcome was achieved")
    amount_minor: int = Field(description="the price in minor units of `currency`")
    currency: str
    contract_version: int = Field(description="the rule-book version that priced it")
    trigger_event_id: str = Field(description="the event that completed the outcome")
    source_event_ids: list[str] = Field(description="every event the claim rests on")
    tier: str | None = Field(description="the price tier that applied, or null")
    trace: dict[str, Any] = Field(description="each condition the engine checked, and why")
    evidence_required: list[str] = Field(description="evidence types still to attach")
    status: str = Field(description="`awaiting_evidence`, or as the rule book's policy sets")
    generation: int = Field(description="0, or how many times an identical claim came before")


class Booking(Part):
    """What a ledger needs to act on a claim, carried on every change of its status."""

    contract_id: str
    provider_id: str
    participant_id: str
    outcome_id: str
    occurred_on: str
    amount_minor: int
    currency: str
    contract_version: int | None = Field(
        default=None,
        description="the rule-book version that priced it (absent before it was added)",
    )


class ClaimTransition(Payload):
    """A change of a claim's status: who made it, when, why, and its booking."""

    STREAM = "claim"

    actor: str = Field(
        description="who: `provider:<id>`, `verifier:<id>`, `admin:<id>`, `system:…`, or "
        "`amendment:<id>` for a change a retroactive amendment made"
    )
    status: str = Field(description="the claim's new status")
    at: str = Field(description="when, UTC ISO")
    note: str = Field(description="the decider's note (may be empty)")
    booking: Booking = Field(description="what a ledger needs to act on the claim")

    def amendment_id(self) -> str | None:
        """The retroactive amendment that made this change (its actor is
        ``amendment:<id>``), or None."""
        prefix = "amendment:"
        return self.actor.removeprefix(prefix) if self.actor.startswith(prefix) else None


class ClaimSubmitted(ClaimTransition):
    """Evidence complete: the claim awaits a verifier (or was sampled out of review)."""

    TYPE = "claim.submitted"
    SCHEMA_VERSION = 1

    sampled: bool = Field(description="drawn into the manual-review sample")
    sample_period: str = Field(description="the month whose sample it belongs to")


class ClaimVerified(ClaimTransition):
    """A verifier accepted the claim: the ledger accrues it."""

    TYPE = "claim.verified"
    SCHEMA_VERSION = 1


class ClaimRejected(ClaimTransition):
    """A verifier refused the claim, with one of the rule book's reason codes."""

    TYPE = "claim.rejected"
    SCHEMA_VERSION = 1

    reason_code: str = Field(description="one of the rule book's reason codes")


class ClaimDisputed(ClaimTransition):
    """The provider disputed a rejection within the window."""

    TYPE = "claim.disputed"
    SCHEMA_VERSION = 1


class ClaimVoided(ClaimTransition):
    """The history no longer supports an unverified claim."""

    TYPE = "claim.voided"
    SCHEMA_VERSION = 1


class ClaimReversalRequested(ClaimTransition):
    """The history no longer supports a verified claim: the ledger reverses it."""

    TYPE = "claim.reversal_requested"
    SCHEMA_VERSION = 1


class EvidenceAttached(Payload):
    """An evidence reference attached to a claim (the document itself stays with the provider)."""

    TYPE = "claim.evidence_attached"
    SCHEMA_VERSION = 1
    STREAM = "claim"

    actor: str = Field(
        description="who: `provider:<id>`, `verifier:<id>`, `admin:<id>`, `system:…`"
    )
    evidence_type: str = Field(description="an evidence type the outcome requires")
    sha256: str = Field(description="SHA-256 of the document, which stays with the provider")
    uri: str | None = Field(description="where the provider keeps it, or null")
    issued_on: str = Field(description="ISO date the document was issued")


# ---- ledger --------------------------------------------------------------------------------------
class BookOpened(Payload):
    """A contract's book, opened when its first rule book arrives."""

    TYPE = "ledger.book_opened"
    SCHEMA_VERSION = 2
    STREAM = "book"

    contract_id: str
    currency: str
    caps: list[dict[str, Any]] = Field(description="the rule book's caps as the book applies them")
    providers: list[str] = Field(description="the rule book's provider ids")
    starts_on: str | None = Field(
        default=None,
        description="ISO date the contract's first rule book took effect: no period before its "
        "month can be closed; null for books opened before version 2",
    )


class TermsChanged(Payload):
    """A contract amendment's caps and providers."""

    TYPE = "ledger.terms_changed"
    SCHEMA_VERSION = 1
    STREAM = "book"

    caps: list[dict[str, Any]] = Field(description="the amended rule book's caps")
    providers: list[str] = Field(description="the amended rule book's provider ids")


class Entry(Part):
    """One leg of a transaction: debits positive, credits negative."""

    account: str = Field(description="a name of the chart of accounts (`docs/ledger.md`)")
    amount_minor: int


class AccrualLine(Part):
    """How an accrual booked its claim (amounts in minor units)."""

    provider_id: str
    participant_id: str
    outcome_id: str
    occurred_on: str
    contract_version: int | None = None  # absent from accruals booked before it was recorded
    amount: int = Field(description="the claim's price")
    accrued: int = Field(description="what the caps let through: owed to the provider")
    capped: int = Field(description="what a cap held back")
    cap_id: str | None = Field(description="the binding cap, when one held something back")
    cap_keys: list[str] = Field(description="the usage keys of every cap the claim counts against")


class AccrualDetails(Part):
    """An accrual's details."""

    line: AccrualLine
    cap_keys: list[str]
    amendment_id: str | None = None


class ReversalDetails(Part):
    """A reversal's details: what of the accrual was unpaid and what is owed back."""

    unpaid: int
    recoverable: int
    # what it undoes: absent from reversals booked before lines were kept apart
    accrued: int | None = None
    cap_keys: list[str] | None = None
    amendment_id: str | None = None


class Recovery(Part):
    claim_id: str = Field(description="the reversed claim whose receivable this recovers")
    amount_minor: int


class NettingDetails(Part):
    """A netting's details: what was set off, against which receivables."""

    amount: int
    recovers: list[Recovery]


class PaymentDetails(Part):
    """A payment's or an overpayment's details."""

    amount: int
    remittance_id: str


class TransactionPosted(Payload):
    """A balanced double-entry transaction: its entries sum to zero."""

    TYPE = "ledger.transaction_posted"
    SCHEMA_VERSION = 1
    STREAM = "book"

    transaction_id: str
    kind: str = Field(description="`accrual`, `netting`, `reversal`, `payment`, `overpayment`")
    claim_id: str = Field(description="the claim (or, for payments, the payable) it concerns")
    provider_id: str
    currency: str
    entries: list[Entry]
    booked_period: str = Field(description="the month it is booked in (`2026-03`)")
    corrects_period: str | None = Field(description="a closed month it corrects, or null")
    details: dict[str, Any] = Field(
        description="by kind: an accrual's `line` (the booking, `accrued`, `capped`, `cap_id`, "
        "`cap_keys`); a reversal's `unpaid`, `recoverable`, `accrued` and `cap_keys`; a "
        "netting's `amount` and the receivables it `recovers`; a payment's `remittance_id` and "
        "`amount`; on an accrual or reversal a retroactive amendment caused, its `amendment_id`"
    )

    def accrual(self) -> AccrualDetails:
        """An accrual's details, typed (a posting of another kind raises)."""
        return AccrualDetails.model_validate(self.details)

    def reversal(self) -> ReversalDetails:
        return ReversalDetails.model_validate(self.details)

    def netting(self) -> NettingDetails:
        return NettingDetails.model_validate(self.details)

    def payment(self) -> PaymentDetails:
        """A payment's or an overpayment's details."""
        return PaymentDetails.model_validate(self.details)


class PeriodClosed(Payload):
    """A month closed: later changes to it are booked in the next open month."""

    TYPE = "ledger.period_closed"
    SCHEMA_VERSION = 1
    STREAM = "book"

    period: str = Field(description="the month closed (`2026-03`)")
    actor: str = Field(
        description="who: `provider:<id>`, `verifier:<id>`, `admin:<id>`, `system:…`"
    )


# ---- metrics -------------------------------------------------------------------------------------
class StaffingOpened(Payload):
    """A provider's staffing record on a contract."""

    TYPE = "staffing.opened"
    SCHEMA_VERSION = 1
    STREAM = "staffing"

    contract_id: str
    provider_id: str


class StaffingReported(Payload):
    """The whole-time-equivalent caseworkers a provider had in a month."""

    TYPE = "staffing.reported"
    SCHEMA_VERSION = 1
    STREAM = "staffing"

    month: str = Field(description="`2026-03`")
    wte: str = Field(description="decimal text")
    actor: str = Field(
        description="who: `provider:<id>`, `verifier:<id>`, `admin:<id>`, `system:…`"
    )


# ---- the catalogue, by feed ----------------------------------------------------------------------
FEEDS: dict[str, tuple[type[Payload], ...]] = {
    "claims": (
        ContractRegistered,
        ContractAmended,
        ParticipantRegistered,
        EventRecorded,
        EventCorrected,
        EventRetracted,
        PersonalDataErased,
        ClaimDerived,
        EvidenceAttached,
        ClaimSubmitted,
        ClaimVerified,
        ClaimRejected,
        ClaimDisputed,
        ClaimVoided,
        ClaimReversalRequested,
    ),
    "ledger": (BookOpened, TermsChanged, TransactionPosted, PeriodClosed),
    "metrics": (StaffingOpened, StaffingReported),
}
BY_TYPE: dict[str, type[Payload]] = {p.TYPE: p for types in FEEDS.values() for p in types}
CLAIM_TRANSITIONS = frozenset(p.TYPE for p in FEEDS["claims"] if issubclass(p, ClaimTransition))
CONTRACT_TYPES = frozenset({ContractRegistered.TYPE, ContractAmended.TYPE})
# the claims feed's rule books and participant histories: what a model of the participants reads
PARTICIPANT_HISTORY_TYPES = CONTRACT_TYPES | {
    ParticipantRegistered.TYPE,
    EventRecorded.TYPE,
    EventCorrected.TYPE,
    EventRetracted.TYPE,
}


def parse(entry: HasTypeAndData) -> Payload:
    """An entry's payload as its catalogue type says (for ``match`` on the payload's class)."""
    return BY_TYPE[entry.type].of(entry)


def actor_of(payload: Payload) -> str | None:
    """Who caused an event, for the types that record one."""
    actor = getattr(payload, "actor", None)
    return actor if isinstance(actor, str) else None


def payloads() -> Iterator[tuple[str, type[Payload]]]:
    for feed, types in FEEDS.items():
        for payload in types:
            yield feed, payload
