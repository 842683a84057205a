"""Payment routes: what is payable (JSON or CSV, with a stable cursor), and remittances."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from services.ledger.booking import RemittanceLine
from services.ledger.fhir import payment_reconciliation
from services.ledger.readmodels.payables import latest_sequence, payables_page
from services.ledger.routes.common import (
    BOOK_ERRORS,
    INDEX_BEHIND,
    caught_up_index,
    ledger,
    readable_book,
)
from services.ledger.schemas import PayableOut, PayablesOut, RemittanceIn, RemittanceOut
from shared.auth import Principal, Role, check_contract_scope, require
from shared.csvout import csv_response, wants_csv
from shared.feed.envelope import MAX_PAGE_SIZE, MAX_POSITION, MAX_WAIT_S
from shared.fhir import FHIR_JSON, as_json, wants_fhir
from shared.longpoll import long_poll

router = APIRouter(tags=["payments"])
PAYABLE_COLUMNS = list(PayableOut.model_fields)


@router.get(
    "/v1/payables",
    summary="List what is payable",
    response_model=PayablesOut,
    responses={
        **BOOK_ERRORS,
        200: {"content": {"text/csv": {}}},
        **INDEX_BEHIND,
    },
)
async def get_payables(
    request: Request,
    principal: Annotated[
        Principal, Depends(require(Role.PAYER, Role.ADMIN, Role.AUDITOR, Role.PROVIDER))
    ],
    contract_id: Annotated[str, Query(max_length=64)],
    provider_id: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Cursor: `next_after` of the last page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    wait_s: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_S,
            description="Long-poll: if nothing is payable after the cursor, wait up to this "
            "long for something to be",
        ),
    ] = 0,
) -> Any:
    """What is payable, one line per claim, in the order it was accrued (stable cursor).

    Every page's `next_after` resumes the list, the last page's too (the book's latest
    accrual then): a payment system keeps it and asks again later, or at once with `wait_s`,
    for only what was accrued since."""
    book = await run_in_threadpool(readable_book, request, principal, contract_id)
    if principal.role is Role.PROVIDER:
        provider_id = principal.provider_id
    application = ledger(request)
    read = _Payables(request, contract_id, provider_id, after, limit)
    page = await run_in_threadpool(read.page)
    if not page.items and wait_s:
        page = await long_poll(
            request, read.page, lambda found: bool(found.items), wait_s, application.feed_signal
        )
    if wants_csv(request):
        return csv_response(page.items, PAYABLE_COLUMNS, page.next_after)
    return PayablesOut.model_validate(
        {
            "contract_id": contract_id,
            "currency": book.currency,
            "items": page.items,
            "next_after": page.next_after,
        }
    )


@dataclass(frozen=True)
class _Page:
    items: list[dict[str, Any]]
    next_after: int


@dataclass(frozen=True)
class _Payables:
    """A page of payables from the ledger's index, once it holds the ledger's latest postings:
    on a full page the cursor is the last line's, on the last page the contract's latest
    accrual (``after`` if that is later)."""

    request: Request
    contract_id: str
    provider_id: str | None
    after: int
    limit: int

    def page(self) -> _Page:
        with caught_up_index(self.request).connect() as connection:
            items = payables_page(
                connection, self.contract_id, self.provider_id, self.after, self.limit
            )
            if len(items) == self.limit:
                return _Page(items, items[-1]["sequence"])
            return _Page(items, max(self.after, latest_sequence(connection, self.contract_id)))


@router.post(
    "/v1/remittances",
    summary="Report a remittance",
    response_model=RemittanceOut,
    responses={
        **BOOK_ERRORS,
        409: {"description": "Idempotency-Key reused with another body"},
        200: {"content": {FHIR_JSON: {}}},
    },
)
def post_remittance(
    request: Request,
    body: RemittanceIn,
    principal: Annotated[Principal, Depends(require(Role.PAYER))],
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=8, max_length=128)],
) -> Any:
    """Report what was paid against which payables. Paying more than is payable records an
    overpayment owed back by the provider; nothing fails silently. With `Accept:
    application/fhir+json` the result is a FHIR R5 `PaymentReconciliation`."""
    check_contract_scope(principal, body.contract_id)
    lines = [RemittanceLine(line.payable_id, line.amount_minor) for line in body.lines]
    results = ledger(request).post_remittance(
        principal.actor, idempotency_key, body.contract_id, body.currency, lines
    )
    answer = RemittanceOut.model_validate({"contract_id": body.contract_id, "results": results})
    if wants_fhir(request.headers.get("accept", "")):
        resource = payment_reconciliation(
            body.contract_id,
            body.currency,
            idempotency_key,
            [line.model_dump() for line in answer.results],
            dt.datetime.now(dt.UTC),
        )
        return Response(as_json(resource), media_type=FHIR_JSON)
    return answer
