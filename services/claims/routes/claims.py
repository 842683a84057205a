"""Claim routes: list and read claims, and the verifier's decisions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from services.claims.application import ClaimsApplication
from services.claims.domain import Claim
from services.claims.errors import ClaimNotFound
from services.claims.projections import ClaimFilter, list_claims
from services.claims.schemas import ClaimListOut, ClaimOut, RejectIn, VerifyIn
from shared.auth import Principal, Role, check_contract_scope, require
from shared.errors import PROBLEM_RESPONSES, Forbidden
from shared.feed.envelope import MAX_PAGE_SIZE
from shared.money import format_minor

router = APIRouter(tags=["claims"])
READERS = (Role.ADMIN, Role.AUDITOR, Role.VERIFIER)


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
    )


def _check_claim_access(principal: Principal, claim: Claim) -> None:
    if principal.role is Role.PROVIDER and claim.provider_id != principal.provider_id:
        raise Forbidden("a provider may read only its own claims")
    check_contract_scope(principal, claim.contract_id)


def _parse_claim_id(claim_id: str) -> UUID:
    try:
        return UUID(claim_id)
    except ValueError:
        raise ClaimNotFound(claim_id) from None


claim_errors = {**PROBLEM_RESPONSES, 404: {"description": "Unknown claim"}}


@router.get("/v1/claims", response_model=ClaimListOut, responses=PROBLEM_RESPONSES)
def get_claims(
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.PROVIDER, Role.PAYER, *READERS))],
    contract_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    after: Annotated[int, Query(ge=0, description="Cursor: `next_after` of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> ClaimListOut:
    """Claims in the order they were derived; the cursor never skips or repeats one."""
    claim_filter = _claim_filter(principal, contract_id, status)
    rows = list_claims(request.app.state.engine, claim_filter, after, limit)
    items = [
        ClaimOut(
            **{k: v for k, v in row.items() if k in ClaimOut.model_fields},
            amount=format_minor(row["amount_minor"], row["currency"]),
        )
        for row in rows
    ]
    next_after = rows[-1]["derived_position"] if len(rows) == limit else None
    return ClaimListOut(items=items, next_after=next_after)


@router.get("/v1/claims/{claim_id}", response_model=ClaimOut, responses=claim_errors)
def get_claim(
    request: Request,
    claim_id: str,
    principal: Annotated[Principal, Depends(require(Role.PROVIDER, Role.PAYER, *READERS))],
) -> ClaimOut:
    claim = _app(request).claim(_parse_claim_id(claim_id))
    _check_claim_access(principal, claim)
    return _claim_out(claim)


decision_errors = {**claim_errors, 409: {"description": "The claim's state does not allow it"}}


@router.post(
    "/v1/claims/{claim_id}/verify",
    response_model=ClaimOut,
    responses=decision_errors,
    tags=["claims"],
)
def verify_claim(
    request: Request,
    claim_id: str,
    principal: Annotated[Principal, Depends(require(Role.VERIFIER))],
    body: VerifyIn | None = None,
) -> ClaimOut:
    """Verify a submitted claim; the ledger books it from the feed."""
    note = body.note if body else ""
    return _claim_out(_app(request).verify(_parse_claim_id(claim_id), principal.actor, note))


@router.post(
    "/v1/claims/{claim_id}/reject",
    response_model=ClaimOut,
    responses=decision_errors,
    tags=["claims"],
)
def reject_claim(
    request: Request,
    claim_id: str,
    body: RejectIn,
    principal: Annotated[Principal, Depends(require(Role.VERIFIER))],
) -> ClaimOut:
    return _claim_out(_app(request).reject(_parse_claim_id(claim_id), principal.actor, body.reason))


def _claim_filter(principal: Principal, contract_id: str | None, status: str | None) -> ClaimFilter:
    if contract_id is not None:
        check_contract_scope(principal, contract_id)
    if principal.role is Role.PAYER:
        return ClaimFilter(
            contract_id=contract_id, status=status, contract_ids=principal.contract_ids
        )
    if principal.role is Role.PROVIDER:
        return ClaimFilter(
            contract_id=contract_id,
            status=status,
            provider_id=principal.provider_id,
            contract_ids=principal.contract_ids or None,
        )
    return ClaimFilter(contract_id=contract_id, status=status)
