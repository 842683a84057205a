"""Ledger HTTP API: balances per provider, and the ledger's own feed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, Field

from services.ledger.application import ClaimsFeedSink, LedgerApplication
from services.ledger.domain import OUTCOME_PAYMENTS
from services.ledger.settings import LedgerSettings
from shared.auth import Principal, Role, ServiceTokens, check_contract_scope, require
from shared.errors import PROBLEM_RESPONSES
from shared.feed.follower import Follower, HttpFeedSource
from shared.feed.server import feed_router
from shared.money import format_minor
from shared.service import build_app
from shared.settings import CommonSettings

PAYABLE_PREFIX = "payable:"


class ProviderBalance(BaseModel):
    provider_id: str
    payable_minor: int = Field(description="Owed to the provider and not yet paid")
    payable: str


class BalancesOut(BaseModel):
    contract_id: str
    currency: str
    outcome_payments_minor: int | None = Field(
        description="The contract's total for outcomes; not shown to a provider"
    )
    providers: list[ProviderBalance]


def create_app(
    settings: LedgerSettings | None = None, common: CommonSettings | None = None
) -> FastAPI:
    settings = settings or LedgerSettings()
    common = common or CommonSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        application = LedgerApplication(settings.store_url(common))
        app.state.application = application
        follower = Follower(
            "ledger<-claims",
            HttpFeedSource(settings.claims_url, ServiceTokens(app.state.signer, "ledger")),
            ClaimsFeedSink(application),
        )
        if settings.follow:
            follower.start()
        app.state.follower = follower
        try:
            yield
        finally:
            follower.stop()
            application.close()

    app = build_app(
        title="Outcomes ledger service",
        description="Double-entry payment books per contract, booked from the claims feed.",
        common=common,
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(feed_router(lambda request: request.app.state.application))

    @app.get(
        "/v1/contracts/{contract_id}/balances",
        response_model=BalancesOut,
        responses={**PROBLEM_RESPONSES, 404: {"description": "No book for this contract"}},
        tags=["balances"],
    )
    def get_balances(
        request: Request,
        contract_id: str,
        principal: Annotated[
            Principal,
            Depends(require(Role.ADMIN, Role.AUDITOR, Role.PAYER, Role.PROVIDER, Role.VERIFIER)),
        ],
    ) -> BalancesOut:
        """What each provider is owed under a contract (a provider sees only its own line)."""
        check_contract_scope(principal, contract_id)
        application: LedgerApplication = request.app.state.application
        book = application.book(contract_id)
        providers = [
            ProviderBalance(
                provider_id=account.removeprefix(PAYABLE_PREFIX),
                payable_minor=-balance,
                payable=format_minor(-balance, book.currency),
            )
            for account, balance in sorted(book.balances.items())
            if account.startswith(PAYABLE_PREFIX)
            and (
                principal.role is not Role.PROVIDER
                or account == PAYABLE_PREFIX + str(principal.provider_id)
            )
        ]
        contract_total = book.balances.get(OUTCOME_PAYMENTS, 0)
        return BalancesOut(
            contract_id=contract_id,
            currency=book.currency,
            outcome_payments_minor=None if principal.role is Role.PROVIDER else contract_total,
            providers=providers,
        )

    return app
