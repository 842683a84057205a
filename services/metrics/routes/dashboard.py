"""The dashboard route: the performance reports as one HTML page."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from services.metrics.application import Reporter
from services.metrics.dashboard import render
from services.metrics.reports import SPECS
from services.metrics.routes.common import Asked, Reader, reporter
from services.metrics.routes.reports import visible_rows
from shared.errors import PROBLEM_RESPONSES

router = APIRouter(tags=["reports"])
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@router.get(
    "/dashboard/{contract_id}",
    response_class=HTMLResponse,
    responses={**PROBLEM_RESPONSES, 404: {"description": "Contract unknown to metrics"}},
)
def get_dashboard(
    asked: Asked, principal: Reader, reports: Annotated[Reporter, Depends(reporter)]
) -> HTMLResponse:
    """Funnel, targets, KPI levels with RAG, provider ranking, conversion, need groups and
    money for one month, as a self-contained page (no scripts, nothing fetched)."""
    report = reports.report(asked, [name for name, spec in SPECS.items() if spec.dashboard])
    sections = {
        name: visible_rows(name, rows, asked, principal.role)
        for name, rows in report.sections.items()
    }
    return HTMLResponse(render(replace(report, sections=sections)), headers=PAGE_HEADERS)
