"""Book routes: balances, statements, reconciliation, one claim's booking, closing a month."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.ledger.errors import PayableNotFound
from services.ledger.readmodels import transactions as index
from services.ledger.reports import balances, claim_booking, reconciliation, statement
from services.ledger.routes.common import (
    BOOK_ERRORS,
    INDEX_BEHIND,
    Period,
    Reader,
    caught_up_index,
    ledger,
    own_lines,
    readable_book,
)
from services.ledger.schemas import (
    PERIOD_PATTERN,
    BalancesOut,
    LedgerClaimOut,
    PeriodOut,
    ProviderBalance,
    ReconciliationOut,
    StatementLine,
    StatementOut,
)
from shared.auth import Principal, Role, require_on_contract
from shared.errors import Forbidden
from shared.moments import AsOf
from shared.money import format_minor

router = APIRouter(tags=["books"])


@router.get(
    "/v1/contracts/{contract_id}/balances",
    summary="Read balances per provider",
    response_model=BalancesOut,
    responses=BOOK_ERRORS,
)
def get_balances(
    request: Request, contract_id: str, principal: Reader, as_of: AsOf = None
) -> BalancesOut:
    """Balances per provider, now or as they stood at a past moment (`as_of`)."""
    book = readable_book(request, principal, contract_id, as_of)
    found = balances(book)
    hidden = principal.role is Role.PROVIDER
    return BalancesOut(
        contract_id=contract_id,
        currency=book.currency,
        as_of=as_of,
        outcome_payments_minor=None if hidden else found["outcome_payments_minor"],
        paid_minor=None if hidden else found["paid_minor"],
        capped_minor=None if hidden else found["capped_minor"],
        providers=[
            ProviderBalance.model_validate(
                {**line, "payable": format_minor(line["payable_minor"], book.currency)}
            )
            for line in own_lines(principal, found["providers"])
        ],
    )


@router.get(
    "/v1/contracts/{contract_id}/statements",
    summary="Read a period's statement",
    response_model=StatementOut,
    responses={**BOOK_ERRORS, **INDEX_BEHIND},
)
def get_statement(
    request: Request,
    contract_id: str,
    principal: Reader,
    period: Annotated[str, Query(pattern=PERIOD_PATTERN)],
    as_of: AsOf = None,
) -> StatementOut:
    """Per provider: opening, accrued, capped, reversed, paid, recovered and closing amounts."""
    book = readable_book(request, principal, contract_id, as_of)
    corrections = []
    if principal.role is not Role.PROVIDER:
        with caught_up_index(request).connect() as connection:
            corrections = index.corrections(connection, contract_id, period, as_of)
    return StatementOut(
        contract_id=contract_id,
        currency=book.currency,
        period=period,
        closed=period in book.closed_periods,
        providers=[
            StatementLine.model_validate(line)
            for line in own_lines(principal, statement(book, period))
        ],
        corrections=corrections,
    )


@router.get(
    "/v1/contracts/{contract_id}/reconciliation",
    summary="Reconcile owed against paid",
    response_model=ReconciliationOut,
    responses=BOOK_ERRORS,
)
def get_reconciliation(request: Request, contract_id: str, principal: Reader) -> ReconciliationOut:
    """Owed against paid per provider, and the difference."""
    book = readable_book(request, principal, contract_id)
    lines = own_lines(principal, reconciliation(book))
    return ReconciliationOut.model_validate(
        {"contract_id": contract_id, "currency": book.currency, "providers": lines}
    )


@router.get(
    "/v1/contracts/{contract_id}/claims/{claim_id}",
    summary="Read how a claim was booked",
    response_model=LedgerClaimOut,
    responses=BOOK_ERRORS,
)
def get_ledger_claim(
    request: Request, contract_id: str, claim_id: str, principal: Reader
) -> LedgerClaimOut:
    """How the ledger booked a claim: accrued, capped (by which cap), paid, reversed."""
    readable_book(request, principal, contract_id)
    line = ledger(request).booked_line(contract_id, claim_id)
    if line is None:
        raise PayableNotFound(claim_id)
    if principal.role is Role.PROVIDER and line["provider_id"] != principal.provider_id:
        raise Forbidden("a provider may read only its own claims")
    return LedgerClaimOut.model_validate(claim_booking(claim_id, line))


@router.post(
    "/v1/contracts/{contract_id}/periods/{period}/close",
    summary="Close a month's books",
    response_model=PeriodOut,
    responses={**BOOK_ERRORS, 409: {"description": "Already closed, or not ended"}},
)
def close_period(
    request: Request,
    contract_id: str,
    period: Period,
    principal: Annotated[Principal, Depends(require_on_contract(Role.ADMIN))],
) -> PeriodOut:
    """Close a month: later postings land in the first open month and say what they correct."""
    book = ledger(request).close_period(contract_id, period, principal.actor)
    return PeriodOut(contract_id=contract_id, closed_periods=sorted(book.closed_periods))
