"""Report routes: every performance report as JSON, or as CSV with ``Accept: text/csv``."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.metrics.application import Report, Reporter, ReportRequest
from services.metrics.reports import COLUMNS, REPORTS, SPECS, Row
from services.metrics.routes.common import Asked, Reader, reporter
from shared.auth import Role
from shared.csvout import csv_response, wants_csv
from shared.errors import PROBLEM_RESPONSES

router = APIRouter(tags=["reports"])
ReportName = StrEnum("ReportName", {name: name for name in REPORTS})  # type: ignore[misc]
REPORT_ERRORS = {**PROBLEM_RESPONSES, 404: {"description": "Contract unknown to metrics"}}


class Scope(BaseModel):
    contract_id: str
    month: str = Field(description="The reporting month")
    reference_date: dt.date = Field(description="The day waits and open deadlines are counted to")
    as_known_at: dt.datetime | None
    filters: dict[str, str | None]


class ReportOut(Scope):
    report: str
    rows: list[dict[str, Any]]


class ReportsOut(Scope):
    sections: dict[str, list[dict[str, Any]]]


def scope_of(report: Report) -> dict[str, Any]:
    request = report.request
    return {
        "contract_id": request.contract_id,
        "month": report.month,
        "reference_date": report.reference_date,
        "as_known_at": request.as_known_at,
        "filters": {
            "provider_id": request.filters.provider_id,
            "site": request.filters.site,
            "cohort": request.filters.cohort,
        },
    }


def visible_rows(name: str, rows: list[Row], request: ReportRequest, role: Role) -> list[Row]:
    """A report that compares providers (the ranking) shows a provider its own row only."""
    if SPECS[name].compares_providers and role is Role.PROVIDER:
        return [row for row in rows if row["provider_id"] == request.filters.provider_id]
    return rows


@router.get(
    "/v1/contracts/{contract_id}/reports",
    response_model=ReportsOut,
    responses=REPORT_ERRORS,
)
def get_reports(
    asked: Asked, principal: Reader, reports: Annotated[Reporter, Depends(reporter)]
) -> ReportsOut:
    """Every report for one month, one contract, optionally one provider, site or cohort."""
    report = reports.report(asked, list(REPORTS))
    sections = {
        name: visible_rows(name, rows, asked, principal.role)
        for name, rows in report.sections.items()
    }
    return ReportsOut(**scope_of(report), sections=sections)


@router.get(
    "/v1/contracts/{contract_id}/reports/{report}",
    response_model=ReportOut,
    responses={**REPORT_ERRORS, 200: {"content": {"text/csv": {}}}},
)
def get_report(
    request: Request,
    report: ReportName,
    asked: Asked,
    principal: Reader,
    reports: Annotated[Reporter, Depends(reporter)],
) -> Any:
    """One report; with `Accept: text/csv`, its rows as CSV (one column per field)."""
    name = str(report.value)
    built = reports.report(asked, [name])
    rows = visible_rows(name, built.sections[name], asked, principal.role)
    if wants_csv(request):
        return csv_response(rows, COLUMNS[name])
    return ReportOut(**scope_of(built), report=name, rows=rows)
