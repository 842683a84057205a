"""Metrics HTTP API: the participant funnel of a contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from pydantic import BaseModel

from services.metrics.application import (
    CLAIMS_UPSTREAM,
    MetricsApplication,
    contract_providers,
    funnel,
)
from services.metrics.projections import apply_claims_entry
from services.metrics.settings import MetricsSettings
from shared.auth import Principal, Role, ServiceTokens, check_contract_scope, require
from shared.errors import PROBLEM_RESPONSES, Forbidden
from shared.eventstore import sqlalchemy_url
from shared.feed.follower import Follower, HttpFeedSource
from shared.feed.server import feed_router
from shared.service import build_app
from shared.settings import CommonSettings
from shared.sqlviews import SqlSink, create_engine, migrate

MIGRATIONS = Path(__file__).parent / "migrations"


class StageCountOut(BaseModel):
    participants: int
    events: int


class FunnelOut(BaseModel):
    contract_id: str
    stages: list[str]
    overall: dict[str, StageCountOut]
    by_provider: dict[str, dict[str, StageCountOut]]
    by_month: dict[str, dict[str, StageCountOut]]


def create_app(
    settings: MetricsSettings | None = None, common: CommonSettings | None = None
) -> FastAPI:
    settings = settings or MetricsSettings()
    common = common or CommonSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store_url = settings.store_url(common)
        application = MetricsApplication(store_url, common.store_env())
        engine = create_engine(sqlalchemy_url(store_url))
        migrate(engine, MIGRATIONS, "alembic_version_metrics")
        follower = Follower(
            "metrics<-claims",
            HttpFeedSource(settings.claims_url, ServiceTokens(app.state.signer, "metrics")),
            SqlSink(engine, CLAIMS_UPSTREAM, apply_claims_entry),
        )
        app.state.application, app.state.engine, app.state.follower = application, engine, follower
        if settings.follow:
            follower.start()
        try:
            yield
        finally:
            follower.stop()
            application.close()
            engine.dispose()

    app = build_app(
        title="Outcomes metrics service",
        description="Performance reports built from the claims and ledger feeds.",
        common=common,
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(feed_router(lambda request: request.app.state.application))

    @app.get(
        "/v1/contracts/{contract_id}/funnel",
        response_model=FunnelOut,
        responses={**PROBLEM_RESPONSES, 404: {"description": "Contract unknown to metrics"}},
        tags=["reports"],
    )
    def get_funnel(
        request: Request,
        contract_id: str,
        principal: Annotated[
            Principal,
            Depends(require(Role.ADMIN, Role.AUDITOR, Role.PAYER, Role.PROVIDER, Role.VERIFIER)),
        ],
        provider_id: Annotated[str | None, Query(max_length=64)] = None,
    ) -> FunnelOut:
        """Participants and events per stage, overall, per provider and per month."""
        check_contract_scope(principal, contract_id)
        if principal.role is Role.PROVIDER:
            if principal.provider_id not in contract_providers(
                request.app.state.engine, contract_id
            ):
                raise Forbidden(
                    f"provider {principal.provider_id} is not part of contract {contract_id}"
                )
            provider_id = principal.provider_id
        report = funnel(request.app.state.engine, contract_id, provider_id)
        return FunnelOut.model_validate(report, from_attributes=True)

    return app
