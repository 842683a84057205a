"""Evaluation routes: an evaluator posts, corrects and retracts evaluation results.

An evaluation result (a randomised or matched comparison of a provider's cohort) is an event of
a type the rule book marks ``recorded_by: evaluator``, about a cohort; the contract prices it
like any other trigger. Only evaluators of the contract post these types, and only these.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.claims.application import ClaimsApplication
from services.claims.commands import IncomingEvent, IntakeRequest
from services.claims.committer import IntakeCommitter
from services.claims.routes.intake import correction_answer, recorded_answer
from services.claims.schemas import (
    CorrectionOut,
    EvaluationCorrectionIn,
    EvaluationIn,
    EvaluationRetractionIn,
    EventId,
    EventRecordedOut,
)
from shared.auth import Principal, Role, check_contract_scope, require
from shared.errors import PROBLEM_RESPONSES, FieldProblem, InvalidInput

router = APIRouter(tags=["evaluations"])
EVALUATION_ERRORS = {
    **PROBLEM_RESPONSES,
    403: {"description": "Not an evaluator of this contract, or not an evaluation type"},
    404: {"description": "Unknown contract, or no such result"},
    409: {"description": "The cohort has this result already (post a correction), or the "
          "event id was used with another body"},
}  # fmt: skip


def _evaluator_of_contract(
    contract_id: str, principal: Annotated[Principal, Depends(require(Role.EVALUATOR))]
) -> Principal:
    """An evaluator of this contract; checked before the body is read."""
    check_contract_scope(principal, contract_id)
    return principal


Evaluator = Annotated[Principal, Depends(_evaluator_of_contract)]


def _app(request: Request) -> ClaimsApplication:
    application: ClaimsApplication = request.app.state.application
    return application


def _checked(request: Request, contract_id: str, provider_id: str) -> None:
    """The result names one of the contract's providers."""
    if provider_id not in _app(request).contracts.latest_rulebook(contract_id).provider_ids():
        raise InvalidInput(
            "unknown provider",
            [FieldProblem("provider_id", f"{provider_id!r} is not a provider of {contract_id}")],
        )


@router.post(
    "/v1/contracts/{contract_id}/evaluations",
    summary="Record an evaluation result",
    status_code=201,
    response_model=EventRecordedOut,
    responses={**EVALUATION_ERRORS, 200: {"description": "Recorded before with the same body"}},
)
def post_evaluation(
    request: Request,
    response: Response,
    contract_id: str,
    body: EvaluationIn,
    principal: Evaluator,
) -> EventRecordedOut:
    """Record an evaluation result about a provider's cohort and derive the claims it earns."""
    _checked(request, contract_id, body.provider_id)
    incoming = IncomingEvent(
        body.event_id, body.cohort_ref, body.type, body.occurred_on, dict(body.attributes)
    )
    committer: IntakeCommitter = request.app.state.committer
    [result] = committer.record(
        IntakeRequest(contract_id, body.provider_id, [incoming], principal.actor, "evaluator")
    )
    if not result.created:
        response.status_code = 200
    return EventRecordedOut(**recorded_answer(result))


@router.post(
    "/v1/contracts/{contract_id}/evaluations/{event_id}/correct",
    summary="Correct an evaluation result",
    response_model=CorrectionOut,
    responses=EVALUATION_ERRORS,
)
def correct_evaluation(
    request: Request,
    contract_id: str,
    event_id: EventId,
    body: EvaluationCorrectionIn,
    principal: Evaluator,
) -> CorrectionOut:
    """Replace a result (a re-analysis, a corrected cohort size). Claims are re-derived."""
    _checked(request, contract_id, body.provider_id)
    correction = IncomingEvent(event_id, "", body.type, body.occurred_on, dict(body.attributes))
    result = _app(request).corrections.correct_event(
        contract_id, body.provider_id, correction, principal.actor, body.reason, "evaluator"
    )
    return correction_answer(result)


@router.post(
    "/v1/contracts/{contract_id}/evaluations/{event_id}/retract",
    summary="Retract an evaluation result",
    response_model=CorrectionOut,
    responses=EVALUATION_ERRORS,
)
def retract_evaluation(
    request: Request,
    contract_id: str,
    event_id: EventId,
    body: EvaluationRetractionIn,
    principal: Evaluator,
) -> CorrectionOut:
    """Withdraw a result. Claims it supported are voided, or marked for reversal if verified."""
    _checked(request, contract_id, body.provider_id)
    result = _app(request).corrections.retract_event(
        contract_id, body.provider_id, event_id, principal.actor, body.reason, "evaluator"
    )
    return correction_answer(result)
