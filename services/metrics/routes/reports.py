"""Report routes: every performance report as JSON, one as CSV with ``Accept: text/csv``, and
the pack (or one report) as an XLSX workbook with the spreadsheet media type."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.metrics import openapi_examples as examples
from services.metrics.application import Report, Reporter, ReportRequest
from services.metrics.reports import COLUMNS, REPORTS, SPECS, Row
from services.metrics.routes.common import Asked, Reader, reporter
from services.metrics.splits import SPLIT_COLUMNS
from shared.auth import Role
from shared.csvout import csv_response, wants_csv
from shared.errors import PROBLEM_RESPONSES
from shared.xlsxout import XLSX, Sheet, wants_xlsx, workbook_bytes

router = APIRouter(tags=["reports"])
ReportName = StrEnum("ReportName", {name: name for name in REPORTS})  # type: ignore[misc]
REPORT_ERRORS = {**PROBLEM_RESPONSES, 404: {"description": "Contract unknown to metrics"}}
WORKBOOK: dict[str, Any] = {XLSX: {}}  # OpenAPI: the other media type of a 200


class Scope(BaseModel):
    contract_id: str
    month: str = Field(description="The reporting month")
    period: str = Field(description="The span of per-period figures: month, quarter or year")
    reference_date: dt.date = Field(description="The day waits and open deadlines are counted to")
    as_known_at: dt.datetime | None
    filters: dict[str, str | None]
    split: str | None = Field(
        description="What each report was split by (`provider`, `site`, `cohort`, "
        "`caseworker`, `flag:<attribute>`), or null"
    )


class ReportOut(Scope):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.REPORT_OUT]})
    report: str
    rows: list[dict[str, Any]]


class ReportsOut(Scope):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.REPORTS_OUT]})
    sections: dict[str, list[dict[str, Any]]]


def scope_of(report: Report) -> dict[str, Any]:
    request = report.request
    return {
        "contract_id": request.contract_id,
        "month": report.month,
        "period": str(request.period),
        "reference_date": report.reference_date,
        "as_known_at": request.as_known_at,
        "filters": request.filters.described(),
        "split": request.split.label if request.split else None,
    }


def visible_rows(name: str, rows: list[Row], request: ReportRequest, role: Role) -> list[Row]:
    """A report that compares providers (the ranking) shows a provider its own row only."""
    if SPECS[name].compares_providers and role is Role.PROVIDER:
        return [row for row in rows if row["provider_id"] == request.filters.provider_id]
    return rows


def workbook(report: Report, sections: dict[str, list[Row]]) -> Response:
    """The reports as one workbook: a sheet saying what was asked, then a sheet per report."""
    scope = scope_of(report)
    about = [
        {"field": "contract", "value": report.contract_name},
        *(
            {"field": key, "value": _text(value)}
            for key, value in scope.items()
            if key != "filters"
        ),
        *({"field": key, "value": value} for key, value in scope["filters"].items()),
    ]
    sheets = [Sheet("scope", ("field", "value"), about)]
    sheets += [
        Sheet(name, columns_of(name, report.request), rows) for name, rows in sections.items()
    ]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", f"{report.request.contract_id}-{report.month}")
    return Response(
        workbook_bytes(sheets),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{safe}.xlsx"'},
    )


def columns_of(name: str, request: ReportRequest) -> tuple[str, ...]:
    """A report's declared columns, after the split's two when it is split."""
    return (*SPLIT_COLUMNS, *COLUMNS[name]) if request.split else COLUMNS[name]


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


@router.get(
    "/v1/contracts/{contract_id}/reports",
    summary="Read every report for a month",
    response_model=ReportsOut,
    responses={**REPORT_ERRORS, 200: {"content": WORKBOOK}},
)
def get_reports(
    request: Request,
    asked: Asked,
    principal: Reader,
    reports: Annotated[Reporter, Depends(reporter)],
) -> Any:
    """Every report for one month, one contract, optionally one provider, site or cohort; with
    `Accept` the XLSX media type, the pack as one workbook (a sheet per report, figures as
    numbers)."""
    report = reports.report(asked, list(REPORTS))
    sections = {
        name: visible_rows(name, rows, asked, principal.role)
        for name, rows in report.sections.items()
    }
    if wants_xlsx(request.headers.get("accept", "")):
        return workbook(report, sections)
    return ReportsOut(**scope_of(report), sections=sections)


@router.get(
    "/v1/contracts/{contract_id}/reports/{report}",
    summary="Read one report (JSON, CSV or XLSX)",
    response_model=ReportOut,
    responses={**REPORT_ERRORS, 200: {"content": {"text/csv": {}, **WORKBOOK}}},
)
def get_report(
    request: Request,
    report: ReportName,
    asked: Asked,
    principal: Reader,
    reports: Annotated[Reporter, Depends(reporter)],
) -> Any:
    """One report; with `Accept: text/csv`, its rows as CSV (one column per field); with the
    XLSX media type, a workbook."""
    name = str(report.value)
    built = reports.report(asked, [name])
    rows = visible_rows(name, built.sections[name], asked, principal.role)
    if wants_xlsx(request.headers.get("accept", "")):
        return workbook(built, {name: rows})
    if wants_csv(request):
        return csv_response(rows, columns_of(name, asked))
    return ReportOut(**scope_of(built), report=name, rows=rows)
