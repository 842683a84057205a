"""The ledger service's app factory: it wires the store, the followers and the routes
(``services/ledger/routes/``: books, payments, audit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as PathLib

from fastapi import FastAPI

from services.ledger.application import CLAIMS_TYPES, ClaimsFeedSink, LedgerApplication
from services.ledger.readmodels import transactions as index
from services.ledger.routes import audit, books, payments, subscriptions
from services.ledger.settings import LedgerSettings
from services.ledger.webhooks.service import Webhooks
from shared.auth import ServiceTokens
from shared.feed.catalogue import TransactionPosted
from shared.feed.envelope import FeedEntry
from shared.feed.follower import CountingSink, Follower, HttpFeedSource, LocalFeedSource
from shared.feed.lease import lease_for
from shared.service import build_app, watch_replica
from shared.settings import CommonSettings
from shared.sqlviews import SqlSink, create_engine, prepare_store
from shared.storeurls import sqlalchemy_url
from shared.tally import Tally

MIGRATIONS = PathLib(__file__).parent / "migrations"


def create_app(
    settings: LedgerSettings | None = None, common: CommonSettings | None = None
) -> FastAPI:
    settings = settings or LedgerSettings()
    common = common or CommonSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(sqlalchemy_url(settings.store_url(common)), common.pool())
        prepare_store(
            engine, MIGRATIONS, "alembic_version_ledger", "ledger", common.migrate_on_start
        )
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
        kinds = Tally()  # the transactions the index applied, by kind, for /metrics
        app.state.telemetry.tally(
            "outcomes_ledger_transactions", "Ledger transactions this replica's index applied, "
            "by kind (accrual, netting, reversal, payment, overpayment)", "kind", kinds,
        )  # fmt: skip
        index_follower = Follower(
            index.INDEX_UPSTREAM,
            LocalFeedSource(application.read_feed, application.feed_signal),
            CountingSink(SqlSink(engine, index.INDEX_UPSTREAM, index.apply_entry), _kind, kinds),
            long_poll_s=0.5,
            lease=lease_for(settings.store_url(common), index.INDEX_UPSTREAM),
        )
        index_follower.start()
        webhooks = Webhooks(settings, common, engine, application)
        app.state.webhooks = webhooks
        app.state.telemetry.watch_workers([webhooks.dispatcher.state])
        app.state.telemetry.tally(
            "outcomes_webhook_attempts", "Webhook delivery attempts this replica recorded",
            "outcome", webhooks.dispatcher.attempts,
        )  # fmt: skip
        webhooks.start()
        readiness = watch_replica(
            app, common, engine, ("alembic_version_ledger", MIGRATIONS),
            [follower, index_follower] if settings.follow else [index_follower],
        )  # fmt: skip
        try:
            yield
        finally:
            readiness.close()
            webhooks.stop()
            index_follower.stop()
            follower.stop()
            application.close()
            engine.dispose()

    app = build_app(
        service="ledger",
        title="Outcomes ledger service",
        description="Double-entry payment books per contract, booked from the claims feed.",
        common=common,
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        routers=[books.router, payments.router, subscriptions.router, audit.router],
    )
    return app


def _kind(entry: FeedEntry) -> str | None:
    return TransactionPosted.of(entry).kind if entry.type == TransactionPosted.TYPE else None
