"""Audit routes of the claims service: why a claim is what it is, and participant histories."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from pydantic import ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from services.claims import openapi_examples as examples
from services.claims.application import ClaimsApplication
from services.claims.explain import as_text, explain_claim, participant_history
from services.claims.routes.claims import AnyReader, check_claim_access, parse_claim_id
from services.claims.routes.contracts import RULEBOOK_BODY, rulebook_of
from services.claims.routes.intake import readable_participant
from services.claims.schemas import Body
from services.claims.whatif import WhatIf, read_model, what_if, what_if_portfolio
from shared.auth import Principal, Role, check_contract_scope, require, require_on_contract
from shared.errors import PROBLEM_RESPONSES, FieldProblem, InvalidInput
from shared.rules.model import RuleBook, RuleBookInvalid, parse_rulebook

router = APIRouter(tags=["audit"])
PARTICIPANT_READERS = (Role.PROVIDER, Role.ADMIN, Role.AUDITOR, Role.VERIFIER)


def _app(request: Request) -> ClaimsApplication:
    application: ClaimsApplication = request.app.state.application
    return application


@router.get(
    "/v1/explain/claims/{claim_id}",
    summary="Explain a claim from its evidence",
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
    claim = application.reader.claim(parse_claim_id(claim_id))
    check_claim_access(principal, claim)
    explained = explain_claim(application, claim)
    if "text/plain" in request.headers.get("accept", ""):
        return PlainTextResponse(as_text(explained))
    return explained


@router.get(
    "/v1/contracts/{contract_id}/participants/{participant_id}/history",
    summary="Read a participant's event history",
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
    participant = readable_participant(request, contract_id, participant_id, principal)
    return participant_history(_app(request), participant)


@router.post(
    "/v1/contracts/{contract_id}/what-if",
    summary="Preview a draft rule book (what-if)",
    responses={**PROBLEM_RESPONSES, 404: {"description": "Unknown contract"}},
    openapi_extra=RULEBOOK_BODY,
)
async def post_what_if(
    request: Request,
    contract_id: str,
    _: Annotated[Principal, Depends(require_on_contract(Role.ADMIN, Role.AUDITOR))],
) -> dict[str, Any]:
    """Replay every participant's history under a draft rule book (as if in force from the
    contract's start) and return, per provider and outcome, the claims and amounts that would
    differ from the live ones, with up to 100 examples. Nothing is written."""
    draft = await rulebook_of(request)
    result = await run_in_threadpool(what_if, _app(request).read_lean, draft, contract_id)
    return what_if_answer(result)


def what_if_answer(result: WhatIf) -> dict[str, Any]:
    rows = [
        {"provider_id": provider, "outcome_id": outcome, **vars(tally)}
        for (provider, outcome), tally in result.by_provider_outcome.items()
    ]
    return {
        "contract_id": result.contract_id,
        "draft_sha256": result.draft_sha256,
        "currency": result.currency,
        "participants": result.participants,
        "differing_claims": result.differing_claims,
        "difference_minor": result.difference_minor,
        "booked": asdict(result.booked),
        "by_provider_outcome": rows,
        "examples": result.examples,
        "elapsed_ms": result.elapsed_ms,
    }


MAX_DRAFTS = 20


class DraftsIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DRAFTS_IN]})
    drafts: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_DRAFTS,
        description="Draft rule books (JSON), one per contract, each for a contract the token "
        "covers",
    )


@router.post(
    "/v1/what-if",
    summary="Preview drafts across a portfolio",
    responses={**PROBLEM_RESPONSES, 404: {"description": "Unknown contract"}},
)
async def post_portfolio_what_if(
    request: Request,
    body: DraftsIn,
    principal: Annotated[Principal, Depends(require(Role.ADMIN, Role.AUDITOR, Role.PAYER))],
) -> dict[str, Any]:
    """What-if for several contracts at once (a portfolio): each draft replayed as
    `POST /v1/contracts/{id}/what-if` does, on one read of the feed, and the totals per
    currency. `booked` gives, through the caps, what the ledger books for the claims verified
    now and what it would book for them under the draft (the draft's caps, in the order they
    were verified)."""
    drafts = [_draft(index, document) for index, document in enumerate(body.drafts)]
    for draft in drafts:
        check_contract_scope(principal, draft.contract_id)
    results, totals = await run_in_threadpool(
        lambda: what_if_portfolio(read_model(_app(request).read_lean), drafts)
    )
    return {"contracts": [what_if_answer(result) for result in results], "totals": totals}


def _draft(index: int, document: dict[str, Any]) -> RuleBook:
    try:
        return parse_rulebook(document)
    except RuleBookInvalid as invalid:
        raise InvalidInput(
            f"draft {index} is not a valid rule book",
            [FieldProblem(f"drafts[{index}].{p.field}", p.message) for p in invalid.problems],
        ) from None
