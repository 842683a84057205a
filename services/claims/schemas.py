"""Request and response bodies of the claims API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.claims import openapi_examples as examples
from shared.identifiers import PUBLIC_ID_PATTERN
from shared.rules.model import NAME_PATTERN

EventId = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContractRegistered(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"contract_id": "ips-employment", "version": 1}]}
    )
    contract_id: str = Field(description="The contract the rule book is for")
    version: int = Field(description="The version it was registered as (1 for a new contract)")


class ContractVersionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CONTRACT_VERSION_OUT]})
    version: int
    effective_from: dt.date
    document_sha256: str


class ContractOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CONTRACT_OUT]})
    contract_id: str
    version: int
    rulebook: dict[str, Any]
    versions: list[ContractVersionOut]


class ContractSummaryOut(BaseModel):
    contract_id: str
    name: str = Field(description="The rule book's name for the contract")
    currency: str = Field(description="ISO 4217: every amount of the contract is in it")
    version: int = Field(description="The latest rule-book version")
    effective_from: dt.date = Field(description="The latest version's")
    contract_end: dt.date | None = Field(description="The last day outcomes are paid for")
    provider_ids: list[str] = Field(description="The providers the latest version names")


class ContractListOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "contract_id": "ips-employment",
                            "name": "Individual Placement and Support: employment outcomes",
                            "currency": "GBP",
                            "version": 2,
                            "effective_from": "2025-06-01",
                            "contract_end": "2027-12-31",
                            "provider_ids": ["northside-ips", "southside-ips"],
                        }
                    ],
                    "next_after": "ips-employment",
                }
            ]
        }
    )
    items: list[ContractSummaryOut]
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null on the last page"
    )


class EventIn(Body):
    """One participant event, as the provider's case-management system records it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "northside-2026-000123",
                    "participant_ref": "case-0042",
                    "type": "job_start",
                    "occurred_on": "2026-03-30",
                    "attributes": {"hours_per_week": 20, "hourly_wage": "12.50"},
                }
            ]
        }
    )
    event_id: EventId = Field(
        description="The provider's id of this event: sent again, it is recorded once"
    )
    participant_ref: str = Field(
        pattern=r"^[^\x00-\x1f\x7f]+$",
        min_length=1,
        max_length=128,
        description="The provider's own reference; never stored in clear",
    )
    type: str = Field(pattern=NAME_PATTERN, description="An event type the rule book defines")
    occurred_on: dt.date = Field(description="When it happened (not when it is sent)")
    attributes: dict[Annotated[str, Field(max_length=64)], Any] = Field(
        default_factory=dict,
        max_length=100,
        description="The attributes the rule book defines for this type; money as a string",
    )


class EventRecordedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "northside-2026-000123",
                    "participant_id": "p_3f9a1c0e5b7d2a48",
                    "position": 1042,
                    "claim_ids": ["6d1f0c8e-3b2a-5f47-9e61-0a8b7c6d5e4f"],
                    "retired_claim_ids": [],
                }
            ]
        }
    )
    event_id: str = Field(description="The provider's id of the event")
    participant_id: str = Field(description="The participant's pseudonym in this contract")
    position: int = Field(description="Feed position of the recorded event")
    claim_ids: list[str] = Field(
        description="Claims this event derived: those it triggered, and those an earlier-dated "
        "event completed (listed on the request's last event about the participant)"
    )
    retired_claim_ids: list[str] = Field(
        default_factory=list,
        description="Claims this event retired (voided, or marked for reversal if verified)",
    )


class EvaluationIn(Body):
    """An evaluation result about one provider's cohort, posted by an evaluator."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.EVALUATION_IN]})

    event_id: EventId
    provider_id: str = Field(
        min_length=1, max_length=64, description="The provider whose cohort was evaluated"
    )
    cohort_ref: str = Field(
        pattern=r"^[^\x00-\x1f\x7f]+$",
        min_length=1,
        max_length=128,
        description="The cohort (and period) evaluated; one result of a type per cohort",
    )
    type: str = Field(pattern=NAME_PATTERN, description="An event type recorded_by: evaluator")
    occurred_on: dt.date = Field(description="When the result was established")
    attributes: dict[Annotated[str, Field(max_length=64)], Any] = Field(
        default_factory=dict, max_length=100, description="The effect, its interval, the size"
    )


class BatchIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "event_id": "northside-2026-000124",
                            "participant_ref": "case-0043",
                            "type": "referral",
                            "occurred_on": "2026-03-02",
                            "attributes": {},
                        },
                        {
                            "event_id": "northside-2026-000125",
                            "participant_ref": "case-0043",
                            "type": "enrollment",
                            "occurred_on": "2026-03-09",
                            "attributes": {},
                        },
                    ]
                }
            ]
        }
    )
    events: list[EventIn] = Field(
        min_length=1, max_length=1000, description="Recorded all in one transaction, or none"
    )


class BatchItemOut(EventRecordedOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "index": 0,
                    "status": 201,
                    "event_id": "northside-2026-000124",
                    "participant_id": "p_3f9a1c0e5b7d2a48",
                    "position": 1043,
                    "claim_ids": [],
                    "retired_claim_ids": [],
                }
            ]
        }
    )
    index: int
    status: int = Field(description="201 recorded now, 200 recorded before with the same body")


class BatchOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.BATCH_OUT]})
    results: list[BatchItemOut]


class ParticipantEventOut(BaseModel):
    event_id: str
    type: str
    occurred_on: dt.date
    attributes: dict[str, Any]
    recorded_at: dt.datetime
    stream_version: int
    actor: str
    corrections: int = 0
    retracted: bool = False
    personal_attributes: dict[str, Any] | None = Field(
        default=None,
        description="The event's personal attributes, opened for the participant's own provider "
        "and for auditors; null otherwise, and for good once erased",
    )


class ParticipantClaimOut(BaseModel):
    claim_key: str
    claim_id: str


class EligibilityOut(BaseModel):
    eligible: bool
    reasons: list[str] = Field(description="Why not, when not eligible")


class OutcomeDiagnosisOut(BaseModel):
    outcome_id: str
    name: str
    status: Literal["derived", "not_derived"]
    reason: str | None = Field(
        description="The first thing that stopped it, with the figures; null when derived"
    )
    trigger_event_ids: list[str] = Field(
        description="The trigger events of its claims, or the event it was judged on"
    )


class DiagnosisOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DIAGNOSIS_OUT]})
    contract_id: str
    participant_id: str
    event_id: str | None
    outcomes: list[OutcomeDiagnosisOut]


class ParticipantOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PARTICIPANT_OUT]})
    contract_id: str
    participant_id: str
    provider_id: str
    subject: str
    eligibility: EligibilityOut
    personal_data: Literal["none", "held", "erased", "withheld"] = Field(
        description="none recorded; held (shown per event); erased for good; withheld from "
        "this caller"
    )
    events: list[ParticipantEventOut]
    claims: list[ParticipantClaimOut]


class ImportProblemOut(BaseModel):
    field: str = Field(description="The column (or `body`, `header`)")
    message: str
    line: int | None = Field(default=None, description="The file's line; the header is 1")


class ImportOut(BaseModel):
    rows: int = Field(description="Rows read (blank lines left out)")
    recorded: int = Field(description="Events recorded now")
    already_recorded: int = Field(description="Rows whose event was recorded before, same body")
    rejected: int = Field(description="Rows not valid (left out with `mode=valid-rows`)")
    claims_derived: int
    claims_retired: int
    dry_run: bool
    errors: list[ImportProblemOut] = Field(description="The first 1,000 problems, by line")


class ImportJobOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.IMPORT_JOB_OUT]})
    job_id: str
    contract_id: str
    status: Literal["receiving", "queued", "checking", "recording", "done", "refused", "failed"] = (
        Field(
            description="`queued` → `checking` → `recording` → `done`; `refused`: the file, or "
            "with `mode=all` some row, is not valid and nothing was recorded; `failed`: stopped "
            "(`detail` says why; what was recorded stays, and sending the file again finishes it)"
        )
    )
    mode: Literal["all", "valid-rows"]
    detail: str | None = None
    bytes: int = Field(description="The file's size")
    rows: int | None = Field(description="Rows in the file (blank lines left out), once checked")
    rows_checked: int
    rows_recorded: int = Field(description="Good rows handled so far while recording")
    recorded: int = Field(description="Events recorded by this job")
    already_recorded: int = Field(description="Rows whose event was recorded before, same body")
    rejected: int = Field(description="Rows not valid (left out with `mode=valid-rows`)")
    claims_derived: int
    claims_retired: int
    errors: list[ImportProblemOut] = Field(description="The first 1,000 problems, by line")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


MAX_CASEWORKER_REFS = 1000


class CaseworkerIdsIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CASEWORKER_IDS_IN]})
    caseworker_refs: list[
        Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]+$", min_length=1, max_length=200)]
    ] = Field(
        min_length=1,
        max_length=MAX_CASEWORKER_REFS,
        description="The provider's own staff references, as its events carry them",
    )


class CaseworkerIdOut(BaseModel):
    caseworker_ref: str
    caseworker_id: str = Field(description="The pseudonym reports show (`w_` and 32 hex digits)")


class CaseworkerIdsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CASEWORKER_IDS_OUT]})
    caseworker_ids: list[CaseworkerIdOut]


class ErasureOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ERASURE_OUT]})
    contract_id: str
    participant_id: str
    erased_at: dt.datetime
    erased_by: str
    sealed_events: int = Field(description="Events whose personal attributes are now unreadable")
    first: bool = Field(description="False when the data had been erased before")


class EvidenceOut(BaseModel):
    evidence_type: str
    sha256: str
    uri: str | None
    issued_on: dt.date


CLAIM_EXAMPLE: dict[str, Any] = {
    "claim_id": "6d1f0c8e-3b2a-5f47-9e61-0a8b7c6d5e4f",
    "contract_id": "ips-employment",
    "provider_id": "northside-ips",
    "participant_id": "p_3f9a1c0e5b7d2a48",
    "outcome_id": "job_sustained_13w",
    "status": "verified",
    "occurred_on": "2026-06-29",
    "amount_minor": 150000,
    "amount": "1500.00",
    "currency": "GBP",
    "contract_version": 1,
    "trigger_event_id": "northside-2026-000311",
    "source_event_ids": ["northside-2026-000123", "northside-2026-000311"],
    "sampled": True,
    "evidence_required": ["pay_slip"],
    "evidence": [
        {
            "evidence_type": "pay_slip",
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "uri": "https://docs.example/northside/pay-slips/0042-w13.pdf",
            "issued_on": "2026-06-29",
        }
    ],
    "missing_evidence": [],
}


class ClaimOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CLAIM_EXAMPLE]})
    claim_id: str
    contract_id: str
    provider_id: str
    participant_id: str
    outcome_id: str
    status: str
    occurred_on: dt.date
    amount_minor: int
    amount: str = Field(description="The amount in major units, as a decimal string")
    currency: str
    contract_version: int
    trigger_event_id: str | None = None
    source_event_ids: list[str] | None = None
    tier: str | None = None
    trace: dict[str, Any] | None = None
    sampled: bool = False
    evidence_required: list[str] | None = None
    evidence: list[EvidenceOut] | None = None
    missing_evidence: list[str] | None = None


class ClaimListItemOut(ClaimOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**CLAIM_EXAMPLE, "derived_position": 1043, "changed_position": 1207}]
        }
    )
    derived_position: int = Field(description="Claims-feed position of its derivation")
    changed_position: int = Field(description="Claims-feed position of its last change")


class ClaimListOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CLAIM_LIST_OUT]})
    items: list[ClaimListItemOut]
    next_after: int = Field(
        description="Pass as `after` (with the same `order`) for the next page. On the last page "
        "it is where the list stands now: asking again with it gives only what came since"
    )


class VerifyIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "pay slip seen"}]})
    note: str = Field(default="", max_length=2000, description="What the verifier checked")


class RejectIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"reason_code": "insufficient_evidence", "reason": "no pay slip for week 13"}
            ]
        }
    )
    reason_code: str = Field(pattern=NAME_PATTERN, description="One of the contract's reason codes")
    reason: str = Field(min_length=1, max_length=2000, description="Why, for the provider")


class DisputeIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "the employer's letter shows 13 weeks"}]}
    )
    note: str = Field(min_length=1, max_length=2000, description="Why the decision is wrong")


class EvidenceIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "evidence_type": "pay_slip",
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "uri": "https://docs.example/northside/pay-slips/0042-w13.pdf",
                    "issued_on": "2026-06-29",
                }
            ]
        }
    )
    evidence_type: str = Field(
        pattern=NAME_PATTERN, description="One of the evidence types the outcome requires"
    )
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the document, lower-case hex"
    )
    uri: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^(https|urn|s3|file):\S+$",
        description="Where the document is kept (never its content)",
    )
    issued_on: dt.date = Field(description="The document's date")


class DecisionIn(Body):
    claim_id: str = Field(max_length=36)
    action: Literal["verify", "reject"]
    reason_code: str = Field(default="", max_length=64)
    note: str = Field(default="", max_length=2000)


class DecisionsIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decisions": [
                        {"claim_id": "6d1f0c8e-3b2a-5f47-9e61-0a8b7c6d5e4f", "action": "verify",
                         "note": "pay slip seen"},
                        {"claim_id": "0c9b8a7d-6e5f-5a4b-8c3d-2e1f0a9b8c7d", "action": "reject",
                         "reason_code": "insufficient_evidence", "note": "no pay slip"},
                    ]
                }
            ]
        }
    )  # fmt: skip
    decisions: list[DecisionIn] = Field(
        min_length=1, max_length=1000, description="Each decided on its own; see the answer"
    )


class DecisionResultOut(BaseModel):
    claim_id: str
    status: str


class DecisionsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DECISIONS_OUT]})
    results: list[DecisionResultOut]


class HistoryEntryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.HISTORY_ENTRY_OUT]})
    type: str
    position: int = Field(description="The entry's position on the claims feed")
    stream_version: int
    recorded_at: dt.datetime
    rulebook_version: int = Field(description="The rule-book version the claim is priced under")
    actor: str | None = None
    status: str | None = None
    note: str | None = None
    data: dict[str, Any]


class OverdueOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.OVERDUE_OUT]})
    claim_id: str
    contract_id: str
    provider_id: str
    outcome_id: str
    status: str
    status_since: dt.datetime
    due_at: dt.datetime
    days_overdue: int


class SamplingProviderOut(BaseModel):
    provider_id: str
    submitted: int
    sampled: int
    sampled_decided: int
    sampled_rejected: int
    rejection_rate: str = Field(description="Rejected share of the decided sample, by amount")
    population_amount_minor: int
    extrapolated_rejected_amount_minor: int


class SamplingOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SAMPLING_OUT]})
    contract_id: str
    period: str
    sample_percent: str | None
    providers: list[SamplingProviderOut]


ProviderId = Annotated[str, Field(pattern=PUBLIC_ID_PATTERN)]


class CorrectionIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "job_start",
                    "occurred_on": "2026-03-23",
                    "attributes": {"hours_per_week": 20, "hourly_wage": "12.50"},
                    "reason": "the start date was keyed a week late",
                }
            ]
        }
    )
    type: str = Field(pattern=NAME_PATTERN, description="The event's type, as corrected")
    occurred_on: dt.date = Field(description="When it happened, as corrected")
    attributes: dict[Annotated[str, Field(max_length=64)], Any] = Field(
        default_factory=dict, max_length=100, description="Its attributes, as corrected"
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why it is corrected")


class RetractionIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "recorded for the wrong participant"}]}
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why it is withdrawn")


class EvaluationCorrectionIn(CorrectionIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "provider_id": "northside-ips",
                    "type": "cohort_effect",
                    "occurred_on": "2026-09-30",
                    "attributes": {"effect_size": "0.21"},
                    "reason": "the effect was computed on the wrong cohort",
                }
            ]
        }
    )
    provider_id: str = Field(min_length=1, max_length=64)


class EvaluationRetractionIn(RetractionIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"provider_id": "northside-ips", "reason": "posted for the wrong cohort"}]
        }
    )
    provider_id: str = Field(min_length=1, max_length=64)


class CorrectionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CORRECTION_OUT]})
    event_id: str
    participant_id: str
    changed: bool = Field(
        description="False when the same correction or retraction was made before"
    )
    derived_claim_ids: list[str]
    retired_claim_ids: list[str] = Field(description="Voided, or marked for reversal if verified")


class ChangeOut(BaseModel):
    path: str
    kind: str
    before: Any = None
    after: Any = None


class DiffOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DIFF_OUT]})
    contract_id: str
    from_version: int
    to_version: int
    changes: list[ChangeOut]
    text: str = Field(description="The same changes, one readable line each")
