"""The dashboard routes: the performance reports as one HTML page, and the short-lived link
that opens it in a browser without pasting a token.

A report reader asks for a link (``POST …/dashboard-links``); the link carries a token made for
that use only, valid for :data:`LINK_TTL_S`. Opening it sets an HTTP-only, same-site session
cookie, valid for :data:`SESSION_TTL_S` and for this contract's dashboard path only, with the
reader's role, provider and the one contract, then redirects to the page without the link. The
page takes the cookie or a bearer token; nothing else takes the cookie.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from services.metrics import openapi_examples as examples
from services.metrics.application import Reporter, contract_providers
from services.metrics.dashboard import render
from services.metrics.reports import SPECS
from services.metrics.routes.common import (
    SESSION_COOKIE,
    PageAsked,
    PageReader,
    Reader,
    reporter,
)
from services.metrics.routes.reports import visible_rows
from shared.auth import LINK_USE, SESSION_USE, Principal, TokenSigner, check_contract_scope
from shared.errors import PROBLEM_RESPONSES, FieldProblem, Forbidden, InvalidInput

router = APIRouter(tags=["reports"])
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
LINK_TTL_S = 300
SESSION_TTL_S = 8 * 60 * 60  # a working day
MAX_LINK_LENGTH = 4096


class LinkIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"month": "2026-03"}]})
    month: str | None = Field(
        default=None, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="The page's month"
    )


class LinkOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.LINK_OUT]})
    url: str = Field(description="Relative to this service; open it within expires_at")
    expires_at: dt.datetime


@router.get(
    "/dashboard/{contract_id}",
    summary="Open a contract's dashboard page",
    response_class=HTMLResponse,
    responses={**PROBLEM_RESPONSES, 404: {"description": "Contract unknown to metrics"}},
)
def get_dashboard(
    asked: PageAsked, principal: PageReader, reports: Annotated[Reporter, Depends(reporter)]
) -> HTMLResponse:
    """Funnel, targets, KPI levels with RAG, provider ranking, conversion, need groups and
    money for one month, as a self-contained page (no scripts, nothing fetched). A bearer
    token, or the session a dashboard link opened."""
    if asked.split is not None:
        raise InvalidInput(
            "the dashboard is not split",
            [FieldProblem("split", "ask the reports (JSON, CSV or XLSX) for a split")],
        )
    report = reports.report(asked, [name for name, spec in SPECS.items() if spec.dashboard])
    sections = {
        name: visible_rows(name, rows, asked, principal.role)
        for name, rows in report.sections.items()
    }
    return HTMLResponse(render(replace(report, sections=sections)), headers=PAGE_HEADERS)


@router.post(
    "/v1/contracts/{contract_id}/dashboard-links",
    summary="Make a dashboard link",
    response_model=LinkOut,
    status_code=201,
    responses={**PROBLEM_RESPONSES, 404: {"description": "Contract unknown to metrics"}},
)
def post_dashboard_link(
    request: Request, contract_id: str, principal: Reader, body: LinkIn | None = None
) -> LinkOut:
    """A link that opens this contract's dashboard in a browser, as the caller (its role,
    provider and this contract only), within five minutes."""
    contract_providers(request.app.state.engine, contract_id)  # 404 unless metrics knows it
    token = _as(request, principal, contract_id, LINK_TTL_S, LINK_USE)
    query = {"link": token} | ({"month": body.month} if body and body.month else {})
    return LinkOut(
        url=f"/dashboard/{contract_id}/open?{urlencode(query)}",
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LINK_TTL_S),
    )


@router.get(
    "/dashboard/{contract_id}/open",
    summary="Follow a dashboard link",
    status_code=303,
    responses=PROBLEM_RESPONSES,
)
def open_dashboard(
    request: Request,
    contract_id: str,
    link: Annotated[str, Query(min_length=1, max_length=MAX_LINK_LENGTH)],
    month: Annotated[str | None, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")] = None,
) -> RedirectResponse:
    """Opens a dashboard link: a session cookie for this contract's page, then the page."""
    signer: TokenSigner = request.app.state.signer
    principal = signer.verify(link, use=LINK_USE)
    check_contract_scope(principal, contract_id)
    if principal.contract_ids != frozenset({contract_id}):
        raise Forbidden(f"this link does not open contract {contract_id}")
    session = _as(request, principal, contract_id, SESSION_TTL_S, SESSION_USE)
    page = f"/dashboard/{contract_id}" + (f"?{urlencode({'month': month})}" if month else "")
    response = RedirectResponse(page, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=SESSION_TTL_S,
        path=f"/dashboard/{contract_id}",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


def _as(request: Request, principal: Principal, contract_id: str, ttl_s: int, use: str) -> str:
    """A token for ``use`` with the caller's role, subject and provider, for one contract."""
    signer: TokenSigner = request.app.state.signer
    return signer.issue(
        principal.role,
        subject=principal.subject,
        provider_id=principal.provider_id,
        contract_ids=[contract_id],
        ttl_s=ttl_s,
        use=use,
    )
