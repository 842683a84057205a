"""``GET /v1/contracts/{id}/indigo``: the contract in the INDIGO data standard's shape."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from services.metrics.routes.common import reporter
from shared.auth import Principal, Role, check_contract_scope, require
from shared.errors import PROBLEM_RESPONSES
from shared.fhir import as_json
from shared.periods import Period

router = APIRouter(tags=["reports"])
Exporter = Annotated[
    Principal, Depends(require(Role.ADMIN, Role.AUDITOR, Role.PAYER, Role.VERIFIER))
]


@router.get(
    "/v1/contracts/{contract_id}/indigo",
    summary="Export INDIGO outcome data",
    responses={
        **PROBLEM_RESPONSES,
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        404: {"description": "Contract unknown to metrics"},
    },
)
async def get_indigo(
    request: Request,
    contract_id: str,
    principal: Exporter,
    period: Annotated[
        Period,
        Query(description="The span of each result and payment: month, quarter or year"),
    ] = Period.QUARTER,
) -> Any:
    """The contract's `outcome_metrics`, `outcome_pricings`, `results` and `outcome_payments`
    as the INDIGO impact-bond data standard's project schema has them, every value wrapped as
    `{"value": …}` and money written as exact numbers. Field by field: docs/metrics.md,
    "INDIGO export". Not for providers: it spans every provider."""
    check_contract_scope(principal, contract_id)
    document = await run_in_threadpool(reporter(request).indigo, contract_id, period)
    return Response(as_json(document), media_type="application/json")
