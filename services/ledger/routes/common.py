"""What the ledger's routes share: the application, a book the caller may read, and the
lines of it a provider may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy.engine import Engine

from services.ledger.application import LedgerApplication
from services.ledger.domain import Book
from services.ledger.readmodels.transactions import wait_for_index
from services.ledger.schemas import PERIOD_PATTERN
from shared.auth import Principal, Role, check_contract_scope, require
from shared.errors import PROBLEM_RESPONSES, Busy, Forbidden

BOOK_ERRORS = {**PROBLEM_RESPONSES, 404: {"description": "No book for this contract"}}
Reader = Annotated[
    Principal, Depends(require(Role.ADMIN, Role.AUDITOR, Role.PAYER, Role.PROVIDER, Role.VERIFIER))
]
Period = Annotated[str, Path(pattern=PERIOD_PATTERN)]


def ledger(request: Request) -> LedgerApplication:
    application: LedgerApplication = request.app.state.application
    return application


def readable_book(
    request: Request, principal: Principal, contract_id: str, as_of: dt.datetime | None = None
) -> Book:
    check_contract_scope(principal, contract_id)
    application = ledger(request)
    current = application.book(contract_id)
    if principal.role is Role.PROVIDER and principal.provider_id not in current.providers:
        raise Forbidden(f"provider {principal.provider_id} is not part of contract {contract_id}")
    return application.book_as_of(contract_id, as_of) if as_of else current


def caught_up_index(request: Request) -> Engine:
    """The read models' engine once the transaction index holds the ledger's latest postings
    (a bounded wait: :func:`~services.ledger.readmodels.transactions.wait_for_index`), or 503."""
    engine: Engine = request.app.state.engine
    application = ledger(request)
    if not wait_for_index(engine, behind(application, application.head_position())):
        raise Busy(
            "the ledger's transaction index is catching up with its postings; retry shortly",
            retry_after_s=2,
        )
    return engine


def behind(application: LedgerApplication, head: int) -> Callable[[int], bool]:
    """Whether an index at a position lacks an entry of the ledger's feed recorded by ``head``
    (the store's head when the request came): what was recorded later is not waited for, so
    a reader is not kept waiting while the ledger books without pause."""

    def lacks(position: int) -> bool:
        return any(entry.position <= head for entry in application.read_feed(position, 1))

    return lacks


INDEX_BEHIND: dict[int | str, dict[str, Any]] = {
    503: {"description": "The ledger's index is catching up; retry later"}
}


def own_lines(principal: Principal, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if principal.role is Role.PROVIDER:
        return [line for line in lines if line["provider_id"] == principal.provider_id]
    return lines
