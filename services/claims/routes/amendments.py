"""Retroactive amendments over HTTP: propose, read, approve (another admin), withdraw."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from services.claims import openapi_examples as examples
from services.claims.amendment import Amendment
from services.claims.amendments import Amendments
from services.claims.routes.contracts import RULEBOOK_BODY, rulebook_of
from services.claims.schemas import Body
from shared.auth import Principal, Role, require_on_contract
from shared.errors import PROBLEM_RESPONSES
from shared.rules.model import RuleBook

router = APIRouter(tags=["contracts"])
Admin = Annotated[Principal, Depends(require_on_contract(Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_on_contract(Role.ADMIN, Role.AUDITOR, Role.VERIFIER))]
ERRORS = {
    **PROBLEM_RESPONSES,
    404: {"description": "Unknown contract or amendment"},
    409: {"description": "Another amendment is open, the preview is stale (its body names the "
          "new one), or the amendment is no longer proposed"},
}  # fmt: skip


class AmendmentProgressOut(BaseModel):
    participants: int = Field(description="Participants re-derived so far")
    populations: int = Field(description="Closed populations re-derived (after the participants)")
    retired: int = Field(description="Claims voided or marked for reversal")
    derived: int = Field(description="Claims derived under the amendment")
    reverified: int = Field(description="Of those, verified at once (their predecessor was)")


class AmendmentOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.AMENDMENT_OUT]})
    amendment_id: str
    contract_id: str
    status: str = Field(description="`proposed`, `approved` (being applied), `applied`, "
                        "`withdrawn`")  # fmt: skip
    effective_from: dt.date
    proposer: str
    proposed_at: str
    note: str
    preview: dict[str, Any] = Field(
        description="The latest preview: `preview_id`, `participants`, `differing_claims`, "
        "`difference_minor`, `by_provider_outcome`, and up to 100 `examples`"
    )
    approver: str | None
    approved_at: str | None
    version: int | None = Field(description="The rule-book version it became, once approved")
    progress: AmendmentProgressOut
    applied_at: str | None


class ApproveIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.APPROVE_IN]})
    preview_id: str = Field(min_length=1, max_length=64, description="The preview you read")


class WithdrawIn(Body):
    note: str = Field(default="", max_length=1000)


def _amendments(request: Request) -> Amendments:
    found: Amendments = request.app.state.application.amendments
    return found


def _out(amendment: Amendment) -> AmendmentOut:
    return AmendmentOut(
        amendment_id=amendment.amendment_id,
        contract_id=amendment.contract_id,
        status=amendment.status,
        effective_from=RuleBook.model_validate(amendment.rulebook).effective_from,
        proposer=amendment.proposer,
        proposed_at=amendment.proposed_at,
        note=amendment.note,
        preview=amendment.preview,
        approver=amendment.approver,
        approved_at=amendment.approved_at,
        version=amendment.rule_version,
        progress=AmendmentProgressOut(**amendment.progress),
        applied_at=amendment.applied_at,
    )


@router.post(
    "/v1/contracts/{contract_id}/amendments",
    summary="Propose a retroactive amendment",
    status_code=201,
    response_model=AmendmentOut,
    responses=ERRORS,
    openapi_extra=RULEBOOK_BODY,
)
async def propose_amendment(
    request: Request,
    response: Response,
    contract_id: str,
    principal: Admin,
    note: Annotated[str, Query(max_length=1000, description="Why, for the approver")] = "",
) -> AmendmentOut:
    """Propose a rule-book version that may take effect in the past. Nothing changes until
    another admin approves it; the answer carries the preview of what it would change."""
    rulebook = await rulebook_of(request)
    amendment = await run_in_threadpool(
        _amendments(request).propose, contract_id, rulebook, principal.actor, note
    )
    response.headers["Location"] = (
        f"/v1/contracts/{contract_id}/amendments/{amendment.amendment_id}"
    )
    return _out(amendment)


@router.get(
    "/v1/contracts/{contract_id}/amendments/{amendment_id}",
    summary="Read an amendment and its preview",
    response_model=AmendmentOut,
    responses=ERRORS,
)
def get_amendment(
    request: Request, contract_id: str, amendment_id: str, principal: Reader
) -> AmendmentOut:
    """An amendment: its preview, its approval, and how far it has been applied."""
    return _out(_amendments(request).get(contract_id, amendment_id))


@router.post(
    "/v1/contracts/{contract_id}/amendments/{amendment_id}/approve",
    summary="Approve an amendment (four eyes)",
    response_model=AmendmentOut,
    responses=ERRORS,
)
def approve_amendment(
    request: Request, contract_id: str, amendment_id: str, body: ApproveIn, principal: Admin
) -> AmendmentOut:
    """Approve an amendment (not its proposer: 403), naming the preview you read. If events
    have changed its effect since, 409 with the new preview's id. Once approved it is the
    contract's next version and is applied in the background (`progress`, then `applied`)."""
    return _out(
        _amendments(request).approve(contract_id, amendment_id, body.preview_id, principal.actor)
    )


@router.post(
    "/v1/contracts/{contract_id}/amendments/{amendment_id}/withdraw",
    summary="Withdraw a proposed amendment",
    response_model=AmendmentOut,
    responses=ERRORS,
)
def withdraw_amendment(
    request: Request,
    contract_id: str,
    amendment_id: str,
    principal: Admin,
    body: WithdrawIn | None = None,
) -> AmendmentOut:
    """Withdraw a proposed amendment; another may then be proposed."""
    note = body.note if body else ""
    return _out(_amendments(request).withdraw(contract_id, amendment_id, principal.actor, note))
