"""The funnel route: participants and events per stage, overall, per provider and per month
(the first report, kept for its clients; read from the report cube like the others)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from services.metrics import openapi_examples as examples
from services.metrics.application import funnel
from services.metrics.routes.common import Reader
from shared.auth import Role
from shared.errors import PROBLEM_RESPONSES

router = APIRouter(tags=["reports"])


class StageCountOut(BaseModel):
    participants: int
    events: int


class FunnelOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.FUNNEL_OUT]})
    contract_id: str
    stages: list[str]
    overall: dict[str, StageCountOut]
    by_provider: dict[str, dict[str, StageCountOut]]
    by_month: dict[str, dict[str, StageCountOut]]


@router.get(
    "/v1/contracts/{contract_id}/funnel",
    summary="Read the participant funnel",
    response_model=FunnelOut,
    responses={**PROBLEM_RESPONSES, 404: {"description": "Contract unknown to metrics"}},
)
def get_funnel(
    request: Request,
    contract_id: str,
    principal: Reader,
    provider_id: Annotated[str | None, Query(max_length=64)] = None,
) -> FunnelOut:
    """Participants and events per stage, overall, per provider and per month."""
    if principal.role is Role.PROVIDER:
        provider_id = principal.provider_id
    report = funnel(request.app.state.engine, contract_id, provider_id)
    return FunnelOut.model_validate(report, from_attributes=True)
