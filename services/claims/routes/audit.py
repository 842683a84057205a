"""Audit routes of the claims service: why a claim is what it is, and participant histories."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from services.claims.application import ClaimsApplication
from services.claims.explain import as_text, explain_claim, participant_history
from services.claims.routes.claims import AnyReader, _check_claim_access, _parse_claim_id
from shared.auth import Principal, Role, check_contract_scope, require
from shared.errors import PROBLEM_RESPONSES, Forbidden

router = APIRouter(tags=["audit"])
PARTICIPANT_READERS = (Role.PROVIDER, Role.ADMIN, Role.AUDITOR, Role.VERIFIER)


def _app(request: Request) -> ClaimsApplication:
    application: ClaimsApplication = request.app.state.application
    return application


@router.get(
    "/v1/explain/claims/{claim_id}",
    responses={
        **PROBLEM_RESPONSES,
        404: {"description": "No such claim"},
        200: {"content": {"text/plain": {}}},
    },
)
def explain(request: Request, claim_id: str, principal: AnyReader) -> Any:
    """The claim, its state history and evidence, the participant events it rests on, and the
    rule-book version and computation (tariff, tier, percentage, multiplier, rounding) that
    priced it. `Accept: text/plain` gives the same for a person to read."""
    application = _app(request)
    claim = application.claim(_parse_claim_id(claim_id))
    _check_claim_access(principal, claim)
    explained = explain_claim(application, claim)
    if "text/plain" in request.headers.get("accept", ""):
        return PlainTextResponse(as_text(explained))
    return explained


@router.get(
    "/v1/contracts/{contract_id}/participants/{participant_id}/history",
    responses={**PROBLEM_RESPONSES, 404: {"description": "Unknown contract or participant"}},
)
def history(
    request: Request,
    contract_id: str,
    participant_id: str,
    principal: Annotated[Principal, Depends(require(*PARTICIPANT_READERS))],
) -> list[dict[str, Any]]:
    """Every event on the participant's history, oldest first: position, recorded time, actor,
    and the rule-book version in force on the day each event says it happened."""
    check_contract_scope(principal, contract_id)
    application = _app(request)
    participant = application.participant(contract_id, participant_id)
    if principal.role is Role.PROVIDER and participant.provider_id != principal.provider_id:
        raise Forbidden("a provider may read only its own participants")
    return participant_history(application, participant)
