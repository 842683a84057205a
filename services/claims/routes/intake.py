"""Intake routes: providers post, correct and retract participant events."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from services.claims.application import ClaimsApplication
from services.claims.commands import CorrectionResult, IncomingEvent, IntakeRequest, IntakeResult
from services.claims.committer import IntakeCommitter
from services.claims.domain import Participant
from services.claims.errors import EventNotFound, ProviderNotInContract
from services.claims.imports import (
    MAX_PROBLEMS,
    ImportResult,
    read_csv,
    rejected_csv,
    template_columns,
)
from services.claims.schemas import (
    BatchIn,
    BatchItemOut,
    BatchOut,
    CaseworkerIdOut,
    CaseworkerIdsIn,
    CaseworkerIdsOut,
    CorrectionIn,
    CorrectionOut,
    DiagnosisOut,
    EligibilityOut,
    ErasureOut,
    EventId,
    EventIn,
    EventRecordedOut,
    ImportOut,
    ImportProblemOut,
    OutcomeDiagnosisOut,
    ParticipantEventOut,
    ParticipantOut,
    RetractionIn,
)
from shared.auth import Principal, Role, check_contract_scope, require, require_on_contract
from shared.errors import PROBLEM_RESPONSES, Forbidden, InvalidInput
from shared.rules.diagnosis import diagnose
from shared.xlsxout import XLSX, Sheet, wants_xlsx, workbook_bytes

router = APIRouter(tags=["intake"])
READERS = (Role.ADMIN, Role.AUDITOR, Role.VERIFIER)
PRECHECK_FRESH_S = 1.0
PERSONAL_READERS = (Role.PROVIDER, Role.AUDITOR)  # a provider reads only its own participants
INTAKE_ERRORS = {
    **PROBLEM_RESPONSES,
    404: {"description": "Unknown contract"},
    409: {"description": "event_id reused with a different body, or the contract closed"},
    503: {"description": "Too many intake requests waiting; retry later"},
}


def _provider_in_contract(
    request: Request,
    contract_id: str,
    principal: Annotated[Principal, Depends(require(Role.PROVIDER))],
) -> Principal:
    """A provider of this contract; checked before the body is read, so outsiders learn nothing."""
    check_contract_scope(principal, contract_id)
    # a kept rule book checked within a second will do: recording re-checks against the store
    rulebook = _app(request).contracts.latest_rulebook(
        contract_id, checked_within_s=PRECHECK_FRESH_S
    )
    if principal.provider_id not in rulebook.provider_ids():
        raise ProviderNotInContract(str(principal.provider_id), contract_id)
    return principal


ProviderCaller = Annotated[Principal, Depends(_provider_in_contract)]


def _provider_or_reader(
    request: Request,
    contract_id: str,
    principal: Annotated[Principal, Depends(require(Role.PROVIDER, *READERS))],
) -> Principal:
    """A reader of the contract, or one of its providers (who then sees its own only)."""
    check_contract_scope(principal, contract_id)
    if principal.role is Role.PROVIDER:
        rulebook = _app(request).contracts.latest_rulebook(
            contract_id, checked_within_s=PRECHECK_FRESH_S
        )
        if principal.provider_id not in rulebook.provider_ids():
            raise ProviderNotInContract(str(principal.provider_id), contract_id)
    return principal


ProviderOrReader = Annotated[Principal, Depends(_provider_or_reader)]


def _app(request: Request) -> ClaimsApplication:
    application: ClaimsApplication = request.app.state.application
    return application


def _committer(request: Request) -> IntakeCommitter:
    committer: IntakeCommitter = request.app.state.committer
    return committer


def _provider_of(principal: Principal, contract_id: str) -> str:
    check_contract_scope(principal, contract_id)
    assert principal.provider_id is not None
    return principal.provider_id


def _incoming(event: EventIn) -> IncomingEvent:
    return IncomingEvent(
        event_id=event.event_id,
        participant_ref=event.participant_ref,
        type=event.type,
        occurred_on=event.occurred_on,
        attributes=dict(event.attributes),
    )


def recorded_answer(result: IntakeResult) -> dict[str, Any]:
    return {
        "event_id": result.event_id,
        "participant_id": result.participant_id,
        "position": result.position,
        "claim_ids": result.claim_ids,
        "retired_claim_ids": result.retired_claim_ids,
    }


CSV_MEDIA_TYPE = "text/csv"
EVENT_BODIES = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/EventIn"}},
        CSV_MEDIA_TYPE: {
            "schema": {"type": "string"},
            "example": "event_id,participant_ref,type,occurred_on,hours_per_week\r\n"
            "ev-1,case-0042,referral,2026-03-02,\r\nev-3,case-0042,job_start,2026-04-01,20\r\n",
        },
    },
}


@router.post(
    "/v1/contracts/{contract_id}/events",
    summary="Record a participant event",
    status_code=201,
    response_model=EventRecordedOut,
    responses={
        **INTAKE_ERRORS,
        200: {
            "model": EventRecordedOut | ImportOut,
            "description": "Recorded before with the same body (`EventRecordedOut`); for a CSV "
            "file, its import (`ImportOut`, or with `mode=valid-rows` and `Accept: text/csv` "
            "the rejected rows)",
            "content": {CSV_MEDIA_TYPE: {}},
        },
    },
    openapi_extra={"requestBody": EVENT_BODIES},
)
async def post_event(
    request: Request,
    response: Response,
    contract_id: str,
    principal: ProviderCaller,
    mode: Annotated[
        Literal["all", "valid-rows"],
        Query(
            description="CSV only. `all`: nothing is recorded unless every row is valid; "
            "`valid-rows`: the valid rows are recorded and the rejected ones given back"
        ),
    ] = "all",
    dry_run: Annotated[
        bool, Query(description="CSV only: check every row and record nothing")
    ] = False,
) -> Any:
    """Record one participant event (JSON) and derive its claims, atomically and
    idempotently; or import a CSV file of events (`Content-Type: text/csv`, one event per
    row: see `GET /v1/contracts/{id}/import-template` and docs/providers.md)."""
    provider_id = _provider_of(principal, contract_id)
    body = await request.body()
    if _media_type(request) == CSV_MEDIA_TYPE:
        return await run_in_threadpool(
            _import_csv, request, contract_id, provider_id, principal.actor, body, mode, dry_run
        )
    event = _parsed(EventIn, body)
    one = IntakeRequest(contract_id, provider_id, [_incoming(event)], principal.actor)
    [result] = await run_in_threadpool(_committer(request).record, one)
    if not result.created:
        response.status_code = 200
    return EventRecordedOut(**recorded_answer(result))


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _parsed(model: type[EventIn], body: bytes) -> EventIn:
    """A JSON body as FastAPI would have parsed it, with its errors in the same shape."""
    try:
        return model.model_validate_json(body)
    except ValidationError as invalid:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in invalid.errors()]
        ) from None


def _import_csv(
    request: Request,
    contract_id: str,
    provider_id: str,
    actor: str,
    body: bytes,
    mode: str,
    dry_run: bool,
) -> Response:
    """Read and check every row, then record (all, or the valid rows), or only check."""
    application = _app(request)
    rulebook = application.contracts.latest_rulebook(contract_id)
    check = read_csv(body, rulebook)
    application.imports.check(check, rulebook, provider_id, application.clock().date())
    problems = check.problems()
    if problems and mode == "all":
        raise InvalidInput(
            f"{len(check.bad):,} of {len(check.rows):,} rows are not valid; nothing was recorded",
            problems[:MAX_PROBLEMS],
            extra={"rows": len(check.rows), "rejected": len(check.bad)},
        )
    if dry_run:
        result = ImportResult(len(check.rows), 0, 0, len(check.bad), 0, 0)
    else:
        result = application.imports.record(check, contract_id, provider_id, actor)
    status = 201 if result.recorded else 200
    if mode == "valid-rows" and CSV_MEDIA_TYPE in request.headers.get("accept", ""):
        return Response(
            rejected_csv(check),
            status_code=status,
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={"X-Recorded": str(result.recorded), "X-Rejected": str(result.rejected)},
        )
    answer = ImportOut(
        **vars(result),
        dry_run=dry_run,
        errors=[ImportProblemOut(**p.as_dict()) for p in problems[:MAX_PROBLEMS]],
    )
    return JSONResponse(answer.model_dump(), status_code=status)


@router.post(
    "/v1/contracts/{contract_id}/events/batch",
    summary="Record a batch of events",
    status_code=201,
    response_model=BatchOut,
    responses=INTAKE_ERRORS,
)
def post_batch(
    request: Request, contract_id: str, batch: BatchIn, principal: ProviderCaller
) -> BatchOut:
    """Record up to 1,000 events in one transaction: all of them, or none if any is refused."""
    provider_id = _provider_of(principal, contract_id)
    events = [_incoming(e) for e in batch.events]
    results = _committer(request).record(
        IntakeRequest(contract_id, provider_id, events, principal.actor)
    )
    return BatchOut(
        results=[
            BatchItemOut(index=index, status=201 if r.created else 200, **recorded_answer(r))
            for index, r in enumerate(results)
        ]
    )


@router.get(
    "/v1/contracts/{contract_id}/import-template",
    summary="Download the import template",
    responses={
        **PROBLEM_RESPONSES,
        404: {"description": "Unknown contract"},
        200: {"content": {CSV_MEDIA_TYPE: {}, XLSX: {}}},
    },
)
def get_import_template(
    request: Request, contract_id: str, principal: ProviderOrReader
) -> Response:
    """The contract's CSV import file, empty: its header (`text/csv`), or as a workbook
    (`Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`) with the
    header on an `events` sheet and a `columns` sheet saying what each column takes."""
    rulebook = _app(request).contracts.latest_rulebook(contract_id)
    columns = template_columns(rulebook)
    names = [column.name for column in columns]
    if wants_xlsx(request.headers.get("accept", "")):
        guide = [
            {
                "column": c.name,
                "takes": c.kind,
                "event types": ", ".join(c.used_by),
                "required for": ", ".join(c.required_by),
                "description": c.description,
            }
            for c in columns
        ]
        sheets = [
            Sheet("events", names, []),
            Sheet("columns", ["column", "takes", "event types", "required for", "description"],
                  guide),
        ]  # fmt: skip
        return Response(
            workbook_bytes(sheets),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{contract_id}-events.xlsx"'},
        )
    return Response(
        ",".join(names) + "\r\n",
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{contract_id}-events.csv"'},
    )


def correction_answer(result: CorrectionResult) -> CorrectionOut:
    return CorrectionOut(
        event_id=result.event_id,
        participant_id=result.participant_id,
        changed=result.changed,
        derived_claim_ids=result.derived_claim_ids,
        retired_claim_ids=result.retired_claim_ids,
    )


AMEND_ERRORS = {
    **PROBLEM_RESPONSES,
    404: {"description": "This provider recorded no such event in this contract"},
    409: {"description": "The event was retracted"},
}


@router.post(
    "/v1/contracts/{contract_id}/events/{event_id}/correct",
    summary="Correct a participant event",
    response_model=CorrectionOut,
    responses=AMEND_ERRORS,
)
def correct_event(
    request: Request,
    contract_id: str,
    event_id: EventId,
    body: CorrectionIn,
    principal: ProviderCaller,
) -> CorrectionOut:
    """Replace an event's body. History keeps both; claims are re-derived at once."""
    provider_id = _provider_of(principal, contract_id)
    correction = IncomingEvent(event_id, "", body.type, body.occurred_on, dict(body.attributes))
    result = _app(request).corrections.correct_event(
        contract_id, provider_id, correction, principal.actor, body.reason
    )
    return correction_answer(result)


@router.post(
    "/v1/contracts/{contract_id}/events/{event_id}/retract",
    summary="Retract a participant event",
    response_model=CorrectionOut,
    responses=AMEND_ERRORS,
)
def retract_event(
    request: Request,
    contract_id: str,
    event_id: EventId,
    body: RetractionIn,
    principal: ProviderCaller,
) -> CorrectionOut:
    """Withdraw an event. Claims it supported are voided, or marked for reversal if verified."""
    provider_id = _provider_of(principal, contract_id)
    result = _app(request).corrections.retract_event(
        contract_id, provider_id, event_id, principal.actor, body.reason
    )
    return correction_answer(result)


@router.post(
    "/v1/contracts/{contract_id}/caseworker-ids",
    summary="Pseudonymise your caseworkers' ids",
    response_model=CaseworkerIdsOut,
    responses={**PROBLEM_RESPONSES, 404: {"description": "Unknown contract"}},
)
def caseworker_ids(
    request: Request, contract_id: str, body: CaseworkerIdsIn, principal: ProviderCaller
) -> CaseworkerIdsOut:
    """The pseudonyms of the provider's own caseworkers, so that it can put names to the
    per-caseworker reports (which show only pseudonyms). Nothing is stored or recorded."""
    provider_id = _provider_of(principal, contract_id)
    application = _app(request)
    rulebook = application.contracts.latest_rulebook(contract_id)
    found = application.personal.caseworker_ids(rulebook, provider_id, body.caseworker_refs)
    return CaseworkerIdsOut(
        caseworker_ids=[
            CaseworkerIdOut(caseworker_ref=ref, caseworker_id=pseudonym) for ref, pseudonym in found
        ]
    )


@router.get(
    "/v1/contracts/{contract_id}/participants/{participant_id}",
    summary="Read a participant's record",
    response_model=ParticipantOut,
    responses={**PROBLEM_RESPONSES, 404: {"description": "Unknown contract or participant"}},
)
def get_participant(
    request: Request,
    contract_id: str,
    participant_id: str,
    principal: Annotated[Principal, Depends(require(Role.PROVIDER, *READERS))],
) -> ParticipantOut:
    """A participant's events in occurred order, whether it is eligible, and its live claims."""
    participant = readable_participant(request, contract_id, participant_id, principal)
    return _participant_out(_app(request), participant, principal.role in PERSONAL_READERS)


def readable_participant(
    request: Request, contract_id: str, participant_id: str, principal: Principal
) -> Participant:
    """The participant, if the caller may read it: a provider reads its own only."""
    check_contract_scope(principal, contract_id)
    participant = _app(request).reader.participant(contract_id, participant_id)
    if principal.role is Role.PROVIDER and participant.provider_id != principal.provider_id:
        raise Forbidden("a provider may read only its own participants")
    return participant


@router.get(
    "/v1/contracts/{contract_id}/participants/{participant_id}/diagnosis",
    summary="Diagnose a participant's outcomes",
    response_model=DiagnosisOut,
    responses={**PROBLEM_RESPONSES, 404: {"description": "Unknown contract, participant or event"}},
)
def get_diagnosis(
    request: Request,
    contract_id: str,
    participant_id: str,
    principal: Annotated[Principal, Depends(require(Role.PROVIDER, *READERS))],
    event_id: Annotated[str | None, Query(max_length=128)] = None,
) -> DiagnosisOut:
    """Why each outcome was or was not derived for this participant: for each outcome of the
    rule book, `derived` with its claims' trigger events, or the first thing that stopped it,
    with the figures ("needs a job_start at least 91 days before the job_sustained of
    2026-06-01; the job_start events found are 59 days before it"). With `event_id`, the
    outcomes that event could trigger, judged on it. A provider sees its own participants."""
    participant = readable_participant(request, contract_id, participant_id, principal)
    history = participant.history()
    if event_id is not None and event_id not in {event.event_id for event in history}:
        raise EventNotFound(event_id)
    versions = _app(request).contracts.versions_for(contract_id)
    found = diagnose(versions, history, event_id)
    return DiagnosisOut(
        contract_id=contract_id,
        participant_id=participant_id,
        event_id=event_id,
        outcomes=[OutcomeDiagnosisOut(**vars(outcome)) for outcome in found],
    )


@router.delete(
    "/v1/contracts/{contract_id}/participants/{participant_id}/personal-data",
    summary="Erase a participant's personal data",
    response_model=ErasureOut,
    responses={**PROBLEM_RESPONSES, 404: {"description": "Unknown contract or participant"}},
)
def erase_personal_data(
    request: Request,
    contract_id: str,
    participant_id: str,
    principal: Annotated[Principal, Depends(require_on_contract(Role.ADMIN))],
) -> ErasureOut:
    """Destroy the participant's personal-data key: its personal attributes become unreadable
    for good. Events, claims, books, metrics and the feed stay as they are. Idempotent."""
    result = _app(request).personal.erase(contract_id, participant_id, principal.actor)
    return ErasureOut(
        contract_id=result.contract_id,
        participant_id=result.participant_id,
        erased_at=result.erased_at,
        erased_by=result.erased_by,
        sealed_events=result.sealed_events,
        first=result.first,
    )


def _participant_out(
    application: ClaimsApplication, participant: Participant, may_read_personal: bool
) -> ParticipantOut:
    personal = application.personal.view(participant) if may_read_personal else None
    opened = personal.by_event if personal is not None else {}
    recorded = {
        e.event_id: e
        for e in application.events.get(participant.id)
        if isinstance(e, Participant.EventRecorded)
    }
    events = [
        ParticipantEventOut(
            event_id=entry["event_id"],
            type=entry["type"],
            occurred_on=dt.date.fromisoformat(entry["occurred_on"]),
            attributes=entry["attributes"],
            recorded_at=recorded[entry["event_id"]].timestamp,
            stream_version=entry["stream_version"],
            actor=entry["actor"],
            corrections=entry.get("corrections", 0),
            retracted=bool(entry.get("retracted")),
            personal_attributes=opened.get(entry["event_id"]),
        )
        for entry in participant.events
    ]
    events.sort(key=lambda e: (e.occurred_on, e.event_id))
    derivation = application.reader.derivation(participant)
    return ParticipantOut(
        contract_id=participant.contract_id,
        participant_id=participant.participant_id,
        provider_id=participant.provider_id,
        subject=participant.subject,
        eligibility=EligibilityOut(
            eligible=derivation.eligible, reasons=derivation.ineligible_reasons
        ),
        personal_data=personal.status if personal is not None else "withheld",
        events=events,
        claims=[
            {"claim_key": key, "claim_id": link["claim_id"]}  # type: ignore[misc]
            for key, link in sorted(participant.claims.items())
        ],
    )
