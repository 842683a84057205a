"""Claim routes: the payer's pull, claim details and history, evidence, decisions, disputes."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from services.claims.application import ClaimsApplication
from services.claims.claim import Claim, Evidence
from services.claims.errors import ClaimNotFound
from services.claims.fhir import FHIR_JSON, as_json, claims_bundle, wants_fhir
from services.claims.readmodels.claim_index import (
    ClaimFilter,
    ClaimPage,
    claim_page,
    overdue_claims,
    sampling_lines,
)
from services.claims.schemas import (
    ClaimListItemOut,
    ClaimListOut,
    ClaimOut,
    DecisionsIn,
    DecisionsOut,
    DisputeIn,
    EvidenceIn,
    EvidenceOut,
    HistoryEntryOut,
    OverdueOut,
    RejectIn,
    SamplingOut,
    SamplingProviderOut,
    VerifyIn,
)
from services.claims.verification import Decision
from shared.auth import Principal, Role, check_contract_scope, require
from shared.csvout import csv_response, wants_csv
from shared.errors import PROBLEM_RESPONSES, FieldProblem, Forbidden, InvalidInput
from shared.feed import catalogue as feed
from shared.feed.envelope import MAX_PAGE_SIZE, MAX_POSITION, MAX_WAIT_S, FeedEntry
from shared.longpoll import long_poll
from shared.moments import KnownAt
from shared.money import format_minor

router = APIRouter(tags=["claims"])
READERS = (Role.ADMIN, Role.AUDITOR, Role.VERIFIER)
CLAIM_ERRORS = {**PROBLEM_RESPONSES, 404: {"description": "Unknown claim"}}
DECISION_ERRORS = {**CLAIM_ERRORS, 409: {"description": "The claim's state does not allow it"}}
CSV_COLUMNS = [
    "claim_id", "contract_id", "provider_id", "participant_id", "outcome_id", "status",
    "occurred_on", "amount_minor", "amount", "currency", "contract_version", "derived_position",
    "changed_position", "trigger_event_id", "source_event_ids", "tier", "sampled",
    "evidence_required", "missing_evidence",
]  # fmt: skip
AnyReader = Annotated[Principal, Depends(require(Role.PROVIDER, Role.PAYER, *READERS))]
Verifier = Annotated[Principal, Depends(require(Role.VERIFIER))]


def _claim_verifier(
    request: Request,
    claim_id: str,
    principal: Annotated[Principal, Depends(require(Role.VERIFIER))],
) -> Principal:
    """A verifier whose token covers the claim's contract (checked before the body is read)."""
    check_contract_scope(
        principal, _app(request).reader.claim(parse_claim_id(claim_id)).contract_id
    )
    return principal


ClaimVerifier = Annotated[Principal, Depends(_claim_verifier)]


def _claim_owner(
    request: Request,
    claim_id: str,
    principal: Annotated[Principal, Depends(require(Role.PROVIDER))],
) -> UUID:
    """The claim, if the calling provider owns it; checked before the body is read."""
    claim = _app(request).reader.claim(parse_claim_id(claim_id))
    if claim.provider_id != principal.provider_id:
        raise Forbidden("a provider may act only on its own claims")
    check_contract_scope(principal, claim.contract_id)
    return claim.id


ProviderCaller = Annotated[Principal, Depends(require(Role.PROVIDER))]
OwnClaim = Annotated[UUID, Depends(_claim_owner)]


def _app(request: Request) -> ClaimsApplication:
    application: ClaimsApplication = request.app.state.application
    return application


def _claim_out(claim: Claim) -> ClaimOut:
    return ClaimOut(
        claim_id=str(claim.id),
        contract_id=claim.contract_id,
        provider_id=claim.provider_id,
        participant_id=claim.participant_id,
        outcome_id=claim.outcome_id,
        status=claim.status.value,
        occurred_on=dt.date.fromisoformat(claim.occurred_on),
        amount_minor=claim.amount_minor,
        amount=format_minor(claim.amount_minor, claim.currency),
        currency=claim.currency,
        contract_version=claim.contract_version,
        trigger_event_id=claim.trigger_event_id,
        source_event_ids=claim.source_event_ids,
        tier=claim.tier,
        trace=claim.trace,
        sampled=claim.sampled,
        evidence_required=claim.evidence_required,
        evidence=[
            EvidenceOut(
                evidence_type=e.evidence_type,
                sha256=e.sha256,
                uri=e.uri,
                issued_on=dt.date.fromisoformat(e.issued_on),
            )
            for e in claim.evidence
        ],
        missing_evidence=claim.missing_evidence(),
    )


def check_claim_access(principal: Principal, claim: Claim) -> None:
    if principal.role is Role.PROVIDER and claim.provider_id != principal.provider_id:
        raise Forbidden("a provider may read only its own claims")
    check_contract_scope(principal, claim.contract_id)


def parse_claim_id(claim_id: str) -> UUID:
    try:
        return UUID(claim_id)
    except ValueError:
        raise ClaimNotFound(claim_id) from None


def _scoped_filter(principal: Principal, **criteria: Any) -> ClaimFilter:
    if criteria.get("contract_id") is not None:
        check_contract_scope(principal, criteria["contract_id"])
    if principal.role is Role.PROVIDER:
        criteria["provider_id"] = principal.provider_id
    if principal.role is Role.PAYER or principal.scoped:  # a payer's list is always scoped
        return ClaimFilter(**criteria, contract_ids=principal.contract_ids)
    return ClaimFilter(**criteria)


@router.get(
    "/v1/claims",
    summary="List claims (cursor, filters)",
    response_model=ClaimListOut,
    responses={**PROBLEM_RESPONSES, 200: {"content": {"text/csv": {}, FHIR_JSON: {}}}},
)
async def get_claims(
    request: Request,
    principal: AnyReader,
    contract_id: Annotated[str | None, Query(max_length=64)] = None,
    provider_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    outcome_id: Annotated[str | None, Query(max_length=64)] = None,
    occurred_from: dt.date | None = None,
    occurred_to: dt.date | None = None,
    recorded_from: dt.datetime | None = None,
    recorded_to: dt.datetime | None = None,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Cursor: `next_after` of the previous page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    as_known_at: KnownAt = None,
    order: Annotated[
        Literal["derived", "changed"],
        Query(
            description="`derived`: in the order claims were derived; `changed`: in the order "
            "of their last change (a claim that changes again comes again), to tail changes"
        ),
    ] = "derived",
    wait_s: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_S,
            description="Long-poll: if the page is empty, wait up to this long for a claim to come",
        ),
    ] = 0,
) -> Any:
    """Claims in the order they were derived (or last changed); the cursor never skips one.

    Every page's `next_after` resumes the list, the last page's too: a payment system keeps
    it and asks again later (or at once with `wait_s`) for only what came since. Items carry
    every field of `GET /v1/claims/{id}`, and their positions.

    With `as_known_at`, the list as it stood then: the claims derived by then, each as it
    stood then (and `status` filters on that); not with `order=changed` or `wait_s`.

    A claim derived while a reader pages always sorts after every claim it has seen. With
    `Accept: text/csv` the same page comes as CSV, with the cursor in `X-Next-After`; with
    `Accept: application/fhir+json` as a FHIR R5 `Bundle` (searchset) of a `Claim` and a
    `ClaimResponse` per claim, its `next` link carrying the cursor.
    """
    if as_known_at is not None and (order == "changed" or wait_s):
        raise InvalidInput(
            "a list as known at a past moment is in derivation order and does not wait",
            [FieldProblem("as_known_at", "not with order=changed or wait_s")],
        )
    claim_filter = _scoped_filter(
        principal,
        contract_id=contract_id,
        provider_id=provider_id,
        status=status,
        outcome_id=outcome_id,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        recorded_from=recorded_from,
        recorded_to=recorded_to,
        as_known_at=as_known_at,
    )
    engine, application = request.app.state.engine, _app(request)

    def read() -> ClaimPage:
        return claim_page(engine, claim_filter, after, limit, order)

    page = await long_poll(request, read, lambda found: bool(found.rows), wait_s)
    items = await run_in_threadpool(_list_items, application, page.rows, as_known_at)
    if wants_fhir(request.headers.get("accept", "")):
        links = {
            "self": str(request.url),
            "next": str(request.url.include_query_params(after=page.next_after)),
        }
        bundle = claims_bundle([i.model_dump() for i in items], _base(request), links)
        return Response(as_json(bundle), media_type=FHIR_JSON)
    if wants_csv(request):
        return csv_response([_csv_row(item) for item in items], CSV_COLUMNS, page.next_after)
    return ClaimListOut(items=items, next_after=page.next_after)


def _list_items(
    application: ClaimsApplication, rows: list[dict[str, Any]], known_at: dt.datetime | None
) -> list[ClaimListItemOut]:
    """Each listed claim as `GET /v1/claims/{id}` shows it (as it stood then, with
    ``known_at``), its status as the index that listed it holds it."""
    claims = application.load_many([UUID(row["claim_id"]) for row in rows], Claim, known_at)
    items = []
    for row in rows:
        claim = claims.get(UUID(row["claim_id"]))
        if claim is None:  # the index is built from the store: never, unless it was dropped
            raise ClaimNotFound(row["claim_id"])
        shown = _claim_out(claim).model_dump() | {"status": row["status"]}
        items.append(
            ClaimListItemOut(
                **shown,
                derived_position=row["derived_position"],
                changed_position=row["updated_position"],
            )
        )
    return items


def _csv_row(item: ClaimListItemOut) -> dict[str, Any]:
    """A list item flattened for CSV: lists joined with spaces, the trace left to JSON."""
    row = item.model_dump(exclude={"trace", "evidence"})
    for name in ("source_event_ids", "evidence_required", "missing_evidence"):
        row[name] = " ".join(row[name] or [])
    return row


@router.get(
    "/v1/claims/overdue",
    summary="List overdue decisions and disputes",
    response_model=list[OverdueOut],
    responses=PROBLEM_RESPONSES,
)
def get_overdue(
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.PROVIDER, Role.PAYER, *READERS))],
    contract_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> list[OverdueOut]:
    """Claims waiting past the contract's decision deadline, and disputes past theirs."""
    claim_filter = _scoped_filter(principal, contract_id=contract_id)
    now = _app(request).clock()
    rows = overdue_claims(request.app.state.engine, claim_filter, now, limit)
    return [
        OverdueOut(**{k: v for k, v in row.items() if k in OverdueOut.model_fields}) for row in rows
    ]


@router.get(
    "/v1/claims/{claim_id}",
    summary="Read a claim (JSON or FHIR)",
    response_model=ClaimOut,
    responses={**CLAIM_ERRORS, 200: {"content": {FHIR_JSON: {}}}},
)
def get_claim(request: Request, claim_id: str, principal: AnyReader) -> Any:
    """One claim; with `Accept: application/fhir+json` a FHIR R5 Bundle of its `Claim` and
    `ClaimResponse`."""
    claim = _app(request).reader.claim(parse_claim_id(claim_id))
    check_claim_access(principal, claim)
    shown = _claim_out(claim)
    if wants_fhir(request.headers.get("accept", "")):
        bundle = claims_bundle([shown.model_dump()], _base(request), {"self": str(request.url)})
        return Response(as_json(bundle), media_type=FHIR_JSON)
    return shown


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get(
    "/v1/claims/{claim_id}/history",
    response_model=list[HistoryEntryOut],
    responses=CLAIM_ERRORS,
    summary="Read a claim's transitions",
)
def get_claim_history(
    request: Request, claim_id: str, principal: AnyReader
) -> list[HistoryEntryOut]:
    """Every transition of the claim with its actor, time and note, oldest first."""
    application = _app(request)
    claim = application.reader.claim(parse_claim_id(claim_id))
    check_claim_access(principal, claim)
    return [
        _history_entry(entry, feed.parse(entry), claim.contract_version)
        for entry in application.stream_history(claim.id)
    ]


def _history_entry(entry: FeedEntry, event: feed.Payload, version: int) -> HistoryEntryOut:
    return HistoryEntryOut(
        type=entry.type,
        position=entry.position,
        stream_version=entry.stream_version,
        recorded_at=entry.recorded_at,
        rulebook_version=version,
        actor=feed.actor_of(event),
        status=event.status
        if isinstance(event, feed.ClaimDerived | feed.ClaimTransition)
        else None,
        note=event.note if isinstance(event, feed.ClaimTransition) else None,
        data=entry.data,
    )


@router.post(
    "/v1/claims/{claim_id}/evidence",
    summary="Attach an evidence reference",
    response_model=ClaimOut,
    responses=DECISION_ERRORS,
)
def attach_evidence(
    request: Request, claim_id: str, own: OwnClaim, body: EvidenceIn, principal: ProviderCaller
) -> ClaimOut:
    """Attach a reference to an evidence document (its hash, never the document)."""
    evidence = Evidence(body.evidence_type, body.sha256, body.uri, body.issued_on.isoformat())
    return _claim_out(_app(request).verification.attach_evidence(own, principal.actor, evidence))


@router.post(
    "/v1/claims/{claim_id}/verify",
    summary="Verify a claim",
    response_model=ClaimOut,
    responses=DECISION_ERRORS,
)
def verify_claim(
    request: Request, claim_id: str, principal: ClaimVerifier, body: VerifyIn | None = None
) -> ClaimOut:
    """Verify a submitted or disputed claim; the ledger books it from the feed."""
    note = body.note if body else ""
    return _claim_out(
        _app(request).verification.verify(parse_claim_id(claim_id), principal.actor, note)
    )


@router.post(
    "/v1/claims/{claim_id}/reject",
    summary="Reject a claim with a reason code",
    response_model=ClaimOut,
    responses=DECISION_ERRORS,
)
def reject_claim(
    request: Request, claim_id: str, body: RejectIn, principal: ClaimVerifier
) -> ClaimOut:
    """Reject with one of the contract's reason codes; a disputed claim's rejection is final."""
    claim = _app(request).verification.reject(
        parse_claim_id(claim_id), principal.actor, body.reason_code, body.reason
    )
    return _claim_out(claim)


@router.post(
    "/v1/claims/{claim_id}/dispute",
    summary="Dispute a rejection",
    response_model=ClaimOut,
    responses=DECISION_ERRORS,
)
def dispute_claim(
    request: Request, claim_id: str, own: OwnClaim, body: DisputeIn, principal: ProviderCaller
) -> ClaimOut:
    """The provider disputes a rejection, within the contract's dispute window."""
    return _claim_out(_app(request).verification.dispute(own, principal.actor, body.note))


@router.post(
    "/v1/claims/decisions",
    summary="Verify or reject many claims at once",
    response_model=DecisionsOut,
    responses=DECISION_ERRORS,
)
def decide_many(
    request: Request,
    body: DecisionsIn,
    principal: Verifier,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=8, max_length=128)],
) -> DecisionsOut:
    """Verify or reject up to 1,000 claims at once: all applied, or none. Idempotent by key."""
    decisions = [Decision(d.claim_id, d.action, d.reason_code, d.note) for d in body.decisions]
    results = _app(request).verification.decide_many(
        principal.actor, idempotency_key, decisions, principal.may_act_on_contract
    )
    return DecisionsOut.model_validate({"results": results})


@router.get(
    "/v1/contracts/{contract_id}/sampling",
    response_model=SamplingOut,
    responses=PROBLEM_RESPONSES,
    summary="Read the month's review sample",
)
def get_sampling(
    request: Request,
    contract_id: str,
    principal: Annotated[Principal, Depends(require(Role.PAYER, *READERS))],
    period: Annotated[str, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")],
) -> SamplingOut:
    """The manual-review sample of a month per provider: rejection rate and what it implies."""
    check_contract_scope(principal, contract_id)
    book = _app(request).contracts.latest_rulebook(contract_id)
    if book.verification.mode != "sampled":
        raise InvalidInput(f"contract {contract_id} does not verify by sample")
    lines = sampling_lines(request.app.state.engine, contract_id, period)
    return SamplingOut(
        contract_id=contract_id,
        period=period,
        sample_percent=book.verification.sample_percent,
        providers=[SamplingProviderOut(**asdict(line)) for line in lines],
    )
