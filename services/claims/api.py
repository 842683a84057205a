"""Claims HTTP API: translate HTTP to use cases and back, and check who may do what."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from services.claims.amendments import AmendmentApplier
from services.claims.application import ClaimsApplication
from services.claims.closer import PopulationCloser
from services.claims.committer import IntakeCommitter
from services.claims.importjobs import ImportJobs, ImportWorker, JobLimits
from services.claims.personal import PersonalDataVault
from services.claims.readmodels.claim_index import (
    INDEXED_TYPES,
    apply_entry,
    claims_by_status,
    contract_ids,
)
from services.claims.routes import (
    amendments,
    audit,
    claims,
    contracts,
    evaluations,
    imports,
    intake,
    populations,
)
from services.claims.settings import ClaimsSettings
from shared.auth import Role
from shared.feed.follower import Follower, LocalFeedSource
from shared.feed.lease import lease_for
from shared.service import build_app, watch_replica
from shared.settings import CommonSettings
from shared.sqlviews import SqlSink, create_engine, prepare_store
from shared.storeurls import sqlalchemy_url

MIGRATIONS = Path(__file__).parent / "migrations"
READERS = (Role.ADMIN, Role.AUDITOR, Role.VERIFIER)


def create_app(
    settings: ClaimsSettings | None = None, common: CommonSettings | None = None
) -> FastAPI:
    settings = settings or ClaimsSettings()
    common = common or CommonSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store_url = settings.store_url(common)
        engine = create_engine(sqlalchemy_url(store_url), common.pool())
        prepare_store(
            engine, MIGRATIONS, "alembic_version_claims", "claims", common.migrate_on_start
        )
        application = ClaimsApplication(
            store_url,
            common.pseudonym_key.get_secret_value(),
            clock=lambda: dt.datetime.now(dt.UTC),
            vault=PersonalDataVault(
                engine,
                common.personal_data_key.get_secret_value(),
                previous_keys=common.previous_personal_data_keys(),
            ),
            store_env=common.store_env(),
        )
        index_follower = Follower(
            "claims-index",
            LocalFeedSource(
                lambda after, limit: application.read_feed(after, limit, INDEXED_TYPES),
                application.feed_signal,
            ),
            SqlSink(engine, "claims", apply_entry),
            long_poll_s=0.5,
            lease=lease_for(store_url, "claims-index"),
        )
        app.state.application, app.state.engine = application, engine
        app.state.committer = IntakeCommitter(
            application, app.state.telemetry.group_requests.observe
        )
        workers = _background_workers(app, application, engine, store_url, settings)
        index_follower.start()
        for worker in workers:
            worker.start()
        readiness = watch_replica(
            app, common, engine, ("alembic_version_claims", MIGRATIONS), [index_follower]
        )
        try:
            yield
        finally:
            readiness.close()
            for worker in reversed(workers):
                worker.stop()
            index_follower.stop()
            app.state.committer.close()
            application.close()
            engine.dispose()

    app = build_app(
        service="claims",
        title="Outcomes claims service",
        description="Contracts, participant events and outcome claims.",
        common=common,
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        routers=[
            contracts.router,
            amendments.router,
            intake.router,
            imports.router,
            evaluations.router,
            populations.router,
            claims.router,
            audit.router,
        ],
        larger_bodies=[(imports.UPLOAD_PATH, settings.import_max_bytes)],
    )
    app.state.rulebook_max_bytes = settings.rulebook_max_bytes
    return app


class Background(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def _background_workers(
    app: FastAPI,
    application: ClaimsApplication,
    engine: Engine,
    store_url: str,
    settings: ClaimsSettings,
) -> list[Background]:
    """What the service does on its own: import jobs, applying approved amendments, and (when
    an interval is set) closing populations; the first two kept on ``app.state`` for tests."""
    app.state.import_jobs = ImportJobs(
        engine,
        application.contracts,
        application.imports,
        application.clock,
        JobLimits(
            max_bytes=settings.import_max_bytes,
            max_rows=settings.import_max_rows,
            max_pending=settings.import_max_pending,
            lease_s=settings.import_lease_s,
            kept_days=settings.import_kept_days,
        ),
    )
    app.state.telemetry.tally(
        "outcomes_import_jobs_ended", "Import jobs this replica ended, by how", "status",
        app.state.import_jobs.ended,
    )  # fmt: skip
    app.state.import_worker = ImportWorker(app.state.import_jobs)
    app.state.amendment_applier = AmendmentApplier(
        application.amendments,
        lambda: contract_ids(engine),
        lease_for(store_url, "claims-amendments"),
        settings.amendment_interval_s,
    )
    census = app.state.telemetry.census(
        "outcomes_claims", "Claims of every contract by current status (the claims index)",
        "status", lambda: claims_by_status(engine), settings.census_interval_s,
    )  # fmt: skip
    workers: list[Background] = [app.state.import_worker, app.state.amendment_applier, census]
    leased = [app.state.amendment_applier.state]
    if settings.population_close_interval_s > 0:
        closer = PopulationCloser(
            application.population_closing,
            application.contracts,
            lambda: contract_ids(engine),
            lease_for(store_url, "claims-population-closer"),
            settings.population_close_interval_s,
        )
        workers.append(closer)
        leased.append(closer.state)
    app.state.telemetry.watch_workers(leased)
    return workers
