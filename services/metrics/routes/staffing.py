"""Staffing routes: a provider posts its whole-time-equivalent caseworkers per month."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.metrics import openapi_examples as examples
from services.metrics.application import MetricsApplication, contract_providers
from services.metrics.routes.common import MONTH, ProviderCaller, Reader, metrics_app
from shared.auth import Role
from shared.errors import PROBLEM_RESPONSES, FieldProblem, InvalidInput

router = APIRouter(tags=["staffing"])
MAX_WTE = Decimal(10_000)


class StaffingIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"month": "2026-03", "wte": "4.5"}]})
    month: str = Field(pattern=MONTH, description="YYYY-MM")
    wte: str = Field(
        pattern=r"^[0-9]{1,5}(\.[0-9]{1,2})?$",
        description='Whole-time-equivalent caseworkers, a decimal string such as "4.5"',
    )


class StaffingOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.STAFFING_OUT]})
    contract_id: str
    provider_id: str
    month: str
    wte: str


class StaffingListOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.STAFFING_LIST_OUT]})
    items: list[StaffingOut]


@router.post(
    "/v1/contracts/{contract_id}/staffing",
    summary="Record a month's staffing (WTE)",
    status_code=201,
    response_model=StaffingOut,
    responses={**PROBLEM_RESPONSES, 200: {"description": "The same figure was on record"}},
)
def post_staffing(
    contract_id: str,
    body: StaffingIn,
    response: Response,
    principal: ProviderCaller,
    application: Annotated[MetricsApplication, Depends(metrics_app)],
) -> StaffingOut:
    """Record (or correct) a month's WTE; every earlier figure stays in the history."""
    assert principal.provider_id is not None
    wte = Decimal(body.wte)
    if wte > MAX_WTE:
        raise InvalidInput("wte out of range", [FieldProblem("wte", f"at most {MAX_WTE}")])
    changed = application.report_staffing(
        contract_id, principal.provider_id, body.month, wte, principal.actor
    )
    if not changed:
        response.status_code = 200
    return StaffingOut(
        contract_id=contract_id, provider_id=principal.provider_id, month=body.month, wte=str(wte)
    )


@router.get(
    "/v1/contracts/{contract_id}/staffing",
    summary="Read staffing per provider",
    response_model=StaffingListOut,
    responses=PROBLEM_RESPONSES,
)
def get_staffing(
    request: Request,
    contract_id: str,
    principal: Reader,
    application: Annotated[MetricsApplication, Depends(metrics_app)],
) -> StaffingListOut:
    """Each provider's latest WTE per month (a provider sees its own)."""
    providers = contract_providers(request.app.state.engine, contract_id)
    if principal.role is Role.PROVIDER:
        providers = [p for p in providers if p == principal.provider_id]
    figures = application.staffing(contract_id, providers)
    return StaffingListOut(
        items=[
            StaffingOut(contract_id=contract_id, provider_id=provider, month=month, wte=str(wte))
            for (provider, month), wte in sorted(figures.items())
        ]
    )
