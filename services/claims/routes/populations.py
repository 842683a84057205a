"""Population routes: close the periods that have ended, deriving what each group earned."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.claims import openapi_examples as examples
from services.claims.application import ClaimsApplication
from shared.auth import Principal, Role, require_on_contract
from shared.errors import PROBLEM_RESPONSES

router = APIRouter(tags=["populations"])
MAX_CLOSE_LIMIT = 5_000


class ClosingOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CLOSING_OUT]})
    closed: int = Field(description="Populations whose claims were derived now for the first time")
    claim_ids: list[str] = Field(description="The claims derived")
    more: bool = Field(description="True when the limit was reached: call again")


@router.post(
    "/v1/contracts/{contract_id}/populations/close",
    summary="Close populations whose period ended",
    response_model=ClosingOut,
    responses={**PROBLEM_RESPONSES, 404: {"description": "Unknown contract"}},
)
def close_populations(
    request: Request,
    contract_id: str,
    principal: Annotated[Principal, Depends(require_on_contract(Role.ADMIN))],
    limit: Annotated[int, Query(ge=1, le=MAX_CLOSE_LIMIT)] = 500,
) -> ClosingOut:
    """Derive the claims of every population whose period closed (its close_days after the
    period's end have passed) and was not derived yet; at most ``limit`` in one transaction.
    Idempotent: run it as often as you like (e.g. daily); a late event re-derives a closed
    population by itself."""
    application: ClaimsApplication = request.app.state.application
    result = application.population_closing.close(contract_id, principal.actor, limit)
    return ClosingOut(closed=result.closed, claim_ids=result.claim_ids, more=result.closed == limit)
