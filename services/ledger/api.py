"""Ledger HTTP API: balances, payables, remittances, statements, reconciliation, periods."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as PathLib
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request

from services.ledger import audit, index
from services.ledger.application import CLAIMS_TYPES, ClaimsFeedSink, LedgerApplication
from services.ledger.booking import RemittanceLine
from services.ledger.domain import Book
from services.ledger.errors import PayableNotFound
from services.ledger.reports import balances, claim_booking, payables, reconciliation, statement
from services.ledger.schemas import (
    PERIOD_PATTERN,
    BalancesOut,
    LedgerClaimOut,
    PayableOut,
    PayablesOut,
    PeriodOut,
    ProviderBalance,
    ReconciliationOut,
    RemittanceIn,
    RemittanceOut,
    StatementLine,
    StatementOut,
)
from services.ledger.settings import LedgerSettings
from shared.auth import Principal, Role, ServiceTokens, check_contract_scope, require
from shared.csvout import csv_response, wants_csv
from shared.errors import PROBLEM_RESPONSES, Forbidden
from shared.eventstore import sqlalchemy_url
from shared.feed.envelope import MAX_PAGE_SIZE, MAX_POSITION
from shared.feed.follower import Follower, HttpFeedSource, LocalFeedSource
from shared.feed.lease import lease_for
from shared.feed.server import digest_router, feed_router
from shared.moments import AsOf
from shared.money import format_minor
from shared.service import build_app
from shared.settings import CommonSettings
from shared.sqlviews import SqlSink, create_engine, migrate

MIGRATIONS = PathLib(__file__).parent / "migrations"
BOOK_ERRORS = {**PROBLEM_RESPONSES, 404: {"description": "No book for this contract"}}
Reader = Annotated[
    Principal, Depends(require(Role.ADMIN, Role.AUDITOR, Role.PAYER, Role.PROVIDER, Role.VERIFIER))
]
Period = Annotated[str, Path(pattern=PERIOD_PATTERN)]
PAYABLE_COLUMNS = list(PayableOut.model_fields)


def create_app(
    settings: LedgerSettings | None = None, common: CommonSettings | None = None
) -> FastAPI:
    settings = settings or LedgerSettings()
    common = common or CommonSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(sqlalchemy_url(settings.store_url(common)), common.pool())
        migrate(engine, MIGRATIONS, "alembic_version_ledger")
        app.state.engine = engine
        application = LedgerApplication(
            settings.store_url(common),
            clock=lambda: dt.datetime.now(dt.UTC),
            store_env=common.store_env(),
        )
        app.state.application = application
        follower = Follower(
            "ledger<-claims",
            HttpFeedSource(
                settings.claims_url, ServiceTokens(app.state.signer, "ledger"), CLAIMS_TYPES
            ),
            ClaimsFeedSink(application),
            lease=lease_for(settings.store_url(common), "ledger<-claims"),
        )
        if settings.follow:
            follower.start()
        app.state.follower = follower
        index_follower = Follower(
            "ledger-index",
            LocalFeedSource(application.read_feed),
            SqlSink(engine, "ledger-index", index.apply_entry),
            long_poll_s=0.5,
            lease=lease_for(settings.store_url(common), "ledger-index"),
        )
        index_follower.start()
        try:
            yield
        finally:
            index_follower.stop()
            follower.stop()
            application.close()
            engine.dispose()

    app = build_app(
        title="Outcomes ledger service",
        description="Double-entry payment books per contract, booked from the claims feed.",
        common=common,
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(feed_router(lambda request: request.app.state.application))
    app.include_router(digest_router(lambda request: request.app.state.application))
    _book_routes(app)
    _claim_and_period_routes(app)
    _payment_routes(app)
    app.include_router(audit.router)
    return app


def _app(request: Request) -> LedgerApplication:
    application: LedgerApplication = request.app.state.application
    return application


def _readable_book(
    request: Request, principal: Principal, contract_id: str, as_of: dt.datetime | None = None
) -> Book:
    check_contract_scope(principal, contract_id)
    application = _app(request)
    current = application.book(contract_id)
    if principal.role is Role.PROVIDER and principal.provider_id not in current.providers:
        raise Forbidden(f"provider {principal.provider_id} is not part of contract {contract_id}")
    return application.book_as_of(contract_id, as_of) if as_of else current


def _own_lines(principal: Principal, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if principal.role is Role.PROVIDER:
        return [line for line in lines if line["provider_id"] == principal.provider_id]
    return lines


def _book_routes(app: FastAPI) -> None:
    @app.get(
        "/v1/contracts/{contract_id}/balances",
        response_model=BalancesOut,
        responses=BOOK_ERRORS,
        tags=["books"],
    )
    def get_balances(
        request: Request, contract_id: str, principal: Reader, as_of: AsOf = None
    ) -> BalancesOut:
        """Balances per provider, now or as they stood at a past moment (`as_of`)."""
        book = _readable_book(request, principal, contract_id, as_of)
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
                for line in _own_lines(principal, found["providers"])
            ],
        )

    @app.get(
        "/v1/contracts/{contract_id}/statements",
        response_model=StatementOut,
        responses=BOOK_ERRORS,
        tags=["books"],
    )
    def get_statement(
        request: Request,
        contract_id: str,
        principal: Reader,
        period: Annotated[str, Query(pattern=PERIOD_PATTERN)],
        as_of: AsOf = None,
    ) -> StatementOut:
        """Per provider: opening, accrued, capped, reversed, paid, recovered and closing amounts."""
        book = _readable_book(request, principal, contract_id, as_of)
        return StatementOut(
            contract_id=contract_id,
            currency=book.currency,
            period=period,
            closed=period in book.closed_periods,
            providers=[
                StatementLine.model_validate(line)
                for line in _own_lines(principal, statement(book, period))
            ],
            corrections=[] if principal.role is Role.PROVIDER else book.corrections.get(period, []),
        )


def _claim_and_period_routes(app: FastAPI) -> None:
    @app.get(
        "/v1/contracts/{contract_id}/reconciliation",
        response_model=ReconciliationOut,
        responses=BOOK_ERRORS,
        tags=["books"],
    )
    def get_reconciliation(
        request: Request, contract_id: str, principal: Reader
    ) -> ReconciliationOut:
        """Owed against paid per provider, and the difference."""
        book = _readable_book(request, principal, contract_id)
        lines = _own_lines(principal, reconciliation(book))
        return ReconciliationOut.model_validate(
            {"contract_id": contract_id, "currency": book.currency, "providers": lines}
        )

    @app.get(
        "/v1/contracts/{contract_id}/claims/{claim_id}",
        response_model=LedgerClaimOut,
        responses=BOOK_ERRORS,
        tags=["books"],
    )
    def get_ledger_claim(
        request: Request, contract_id: str, claim_id: str, principal: Reader
    ) -> LedgerClaimOut:
        """How the ledger booked a claim: accrued, capped (by which cap), paid, reversed."""
        book = _readable_book(request, principal, contract_id)
        line = book.lines.get(claim_id)
        if line is None:
            raise PayableNotFound(claim_id)
        if principal.role is Role.PROVIDER and line["provider_id"] != principal.provider_id:
            raise Forbidden("a provider may read only its own claims")
        return LedgerClaimOut.model_validate(claim_booking(book, claim_id))

    @app.post(
        "/v1/contracts/{contract_id}/periods/{period}/close",
        response_model=PeriodOut,
        responses={**BOOK_ERRORS, 409: {"description": "Already closed, or not ended"}},
        tags=["books"],
    )
    def close_period(
        request: Request,
        contract_id: str,
        period: Period,
        principal: Annotated[Principal, Depends(require(Role.ADMIN))],
    ) -> PeriodOut:
        """Close a month: later postings land in the first open month and say what they correct."""
        book = _app(request).close_period(contract_id, period, principal.actor)
        return PeriodOut(contract_id=contract_id, closed_periods=sorted(book.closed_periods))


def _payment_routes(app: FastAPI) -> None:
    @app.get(
        "/v1/payables",
        response_model=PayablesOut,
        responses={**BOOK_ERRORS, 200: {"content": {"text/csv": {}}}},
        tags=["payments"],
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
        book = _readable_book(request, principal, contract_id)
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

    @app.post(
        "/v1/remittances",
        response_model=RemittanceOut,
        responses={**BOOK_ERRORS, 409: {"description": "Idempotency-Key reused with another body"}},
        tags=["payments"],
    )
    def post_remittance(
        request: Request,
        body: RemittanceIn,
        principal: Annotated[Principal, Depends(require(Role.PAYER))],
        idempotency_key: Annotated[
            str, Header(alias="Idempotency-Key", min_length=8, max_length=128)
        ],
    ) -> RemittanceOut:
        """Report what was paid against which payables. Paying more than is payable records an
        overpayment owed back by the provider; nothing fails silently."""
        check_contract_scope(principal, body.contract_id)
        lines = [RemittanceLine(line.payable_id, line.amount_minor) for line in body.lines]
        results = _app(request).post_remittance(
            principal.actor, idempotency_key, body.contract_id, body.currency, lines
        )
        return RemittanceOut.model_validate({"contract_id": body.contract_id, "results": results})
