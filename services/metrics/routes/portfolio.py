"""``GET /v1/portfolio``: a line per contract the caller may see (JSON, CSV or an HTML page)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from services.metrics import openapi_examples as examples
from services.metrics import portfolio
from services.metrics.routes.common import reporter
from shared.auth import Principal, Role, require
from shared.csvout import csv_response, wants_csv
from shared.errors import PROBLEM_RESPONSES
from shared.identifiers import PUBLIC_ID_PATTERN

router = APIRouter(tags=["reports"])
MAX_SCANNED = 10_000  # contract ids read to fill one page for a token limited to contracts
HTML = "text/html"


class PortfolioLineOut(BaseModel):
    contract_id: str
    name: str
    currency: str
    month: str = Field(description="The month the line is for: the current one")
    participants: int = Field(description="The funnel's first stage, contract to date")
    outcomes: int = Field(description="Claims the ledger booked, less those reversed")
    accrued: str | None = Field(description="The money report's `*` row, contract to date")
    paid: str | None
    capped: str | None
    unpaid: str | None
    target_id: str | None = Field(description="The first whole-contract target series")
    target_period: str | None = Field(description="Its period holding the current month")
    target: Any
    actual: Any
    percent_of_target: str | None


class PortfolioOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PORTFOLIO_OUT]})
    as_of: dt.datetime
    items: list[PortfolioLineOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null at the end")


@router.get(
    "/v1/portfolio",
    summary="Read the portfolio report",
    response_model=PortfolioOut,
    responses={**PROBLEM_RESPONSES, 200: {"content": {"text/csv": {}, HTML: {}}}},
)
async def get_portfolio(
    request: Request,
    principal: Annotated[
        Principal, Depends(require(Role.ADMIN, Role.AUDITOR, Role.VERIFIER, Role.PAYER))
    ],
    after: Annotated[
        str | None,
        Query(max_length=64, pattern=PUBLIC_ID_PATTERN, description="The last contract id seen"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> Any:
    """For each contract the caller may see (an unscoped admin, auditor or verifier: all; a
    token limited to contracts, payers' always: those), by id: participants, outcomes, money
    accrued, paid, capped and unpaid, and the main target's actual against it, this month.
    `Accept: text/csv` gives the same lines as CSV (cursor in `X-Next-After`), `text/html` as
    a page."""
    engine = request.app.state.engine
    found = await run_in_threadpool(portfolio.contract_ids, engine, after, MAX_SCANNED)
    visible = [c for c in found if principal.may_act_on_contract(c)]
    page, more = visible[:limit], len(visible) > limit
    lines = await run_in_threadpool(
        lambda: [portfolio.line(reporter(request), engine, c) for c in page]
    )
    next_after = page[-1] if more else None
    if wants_csv(request):
        return csv_response([item.as_dict() for item in lines], portfolio.COLUMNS, next_after)
    now = dt.datetime.now(dt.UTC)
    if HTML in request.headers.get("accept", ""):
        return HTMLResponse(portfolio.render(lines, now))
    return PortfolioOut(
        as_of=now,
        items=[PortfolioLineOut(**item.as_dict()) for item in lines],
        next_after=next_after,
    )
