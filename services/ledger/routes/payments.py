"""Payment routes: what is payable (JSON or CSV, with a stable cursor), and remittances."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request

from services.ledger.booking import RemittanceLine
from services.ledger.reports import payables
from services.ledger.routes.common import BOOK_ERRORS, ledger, readable_book
from services.ledger.schemas import PayableOut, PayablesOut, RemittanceIn, RemittanceOut
from shared.auth import Principal, Role, check_contract_scope, require
from shared.csvout import csv_response, wants_csv
from shared.feed.envelope import MAX_PAGE_SIZE, MAX_POSITION

router = APIRouter(tags=["payments"])
PAYABLE_COLUMNS = list(PayableOut.model_fields)


@router.get(
    "/v1/payables",
    response_model=PayablesOut,
    responses={**BOOK_ERRORS, 200: {"content": {"text/csv": {}}}},
)
def get_payables(
    request: Request,
    principal: Annotated[
        Principal, Depends(require(Role.PAYER, Role.ADMIN, Role.AUDITOR, Role.PROVIDER))
    ],
    contract_id: Annotated[str, Query(max_length=64)],
    provider_id: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> Any:
    """What is payable, one line per claim, in the order it was accrued (stable cursor)."""
    book = readable_book(request, principal, contract_id)
    if principal.role is Role.PROVIDER:
        provider_id = principal.provider_id
    items = payables(book, provider_id, after, limit)
    next_after = items[-1]["sequence"] if len(items) == limit else None
    if wants_csv(request):
        return csv_response(items, PAYABLE_COLUMNS, next_after)
    return PayablesOut.model_validate(
        {
            "contract_id": contract_id,
            "currency": book.currency,
            "items": items,
            "next_after": next_after,
        }
    )


@router.post(
    "/v1/remittances",
    response_model=RemittanceOut,
    responses={**BOOK_ERRORS, 409: {"description": "Idempotency-Key reused with another body"}},
)
def post_remittance(
    request: Request,
    body: RemittanceIn,
    principal: Annotated[Principal, Depends(require(Role.PAYER))],
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=8, max_length=128)],
) -> RemittanceOut:
    """Report what was paid against which payables. Paying more than is payable records an
    overpayment owed back by the provider; nothing fails silently."""
    check_contract_scope(principal, body.contract_id)
    lines = [RemittanceLine(line.payable_id, line.amount_minor) for line in body.lines]
    results = ledger(request).post_remittance(
        principal.actor, idempotency_key, body.contract_id, body.currency, lines
    )
    return RemittanceOut.model_validate({"contract_id": body.contract_id, "results": results})
