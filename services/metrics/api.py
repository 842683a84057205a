"""The metrics service's app factory: it wires the store, the followers and the routes
(``services/metrics/routes/``: funnel, reports, staffing, dashboard)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.metrics.application import (
    CLAIMS_UPSTREAM,
    LEDGER_UPSTREAM,
    MetricsApplication,
    Reporter,
)
from services.metrics.following import upstreams
from services.metrics.readmodels.performance import PerformanceProjector
from services.metrics.routes import dashboard, funnel, indigo, portfolio, reports, staffing
from services.metrics.settings import MetricsSettings
from shared.auth import ServiceTokens
from shared.feed.follower import Follower
from shared.feed.lease import lease_for
from shared.service import build_app, watch_replica
from shared.settings import CommonSettings
from shared.sqlviews import SqlSink, create_engine, prepare_store
from shared.storeurls import sqlalchemy_url

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    settings: MetricsSettings | None = None, common: CommonSettings | None = None
) -> FastAPI:
    settings = settings or MetricsSettings()
    common = common or CommonSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store_url = settings.store_url(common)
        application = MetricsApplication(store_url, common.store_env())
        engine = create_engine(sqlalchemy_url(store_url), common.pool())
        prepare_store(
            engine, MIGRATIONS, "alembic_version_metrics", "metrics", common.migrate_on_start
        )
        tokens = ServiceTokens(app.state.signer, "metrics")
        urls = {CLAIMS_UPSTREAM: settings.claims_url, LEDGER_UPSTREAM: settings.ledger_url}
        followers = [
            Follower(
                upstream.follower_name,
                upstream.source(urls[upstream.service], tokens),
                SqlSink(engine, upstream.name, upstream.handler),
                lease=lease_for(store_url, upstream.follower_name),
            )
            for upstream in upstreams(
                PerformanceProjector(
                    hours_kept=dt.timedelta(days=settings.snapshot_hours_kept_days)
                )
            )
        ]
        app.state.application, app.state.engine = application, engine
        app.state.reporter = Reporter(engine, application, lambda: dt.datetime.now(dt.UTC))
        if settings.follow:
            for follower in followers:
                follower.start()
        readiness = watch_replica(
            app, common, engine, ("alembic_version_metrics", MIGRATIONS),
            followers if settings.follow else [],
        )  # fmt: skip
        try:
            yield
        finally:
            readiness.close()
            for follower in followers:
                follower.stop()
            application.close()
            engine.dispose()

    app = build_app(
        service="metrics",
        title="Outcomes metrics service",
        description="Performance reports built from the claims and ledger feeds.",
        common=common,
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        routers=[
            funnel.router,
            reports.router,
            indigo.router,
            portfolio.router,
            staffing.router,
            dashboard.router,
        ],
    )
    return app
