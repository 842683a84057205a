"""Issue 21, point 5: migrations are a step. ``outcomes migrate`` brings a store made by the
oldest migration to head on SQLite and on PostgreSQL; a service refuses to start on a store
behind its code (naming the command) unless told to migrate."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from services.claims.api import create_app as claims_app
from services.claims.settings import ClaimsSettings
from services.cli import main
from services.ledger.api import create_app as ledger_app
from services.ledger.settings import LedgerSettings
from services.metrics.api import create_app as metrics_app
from services.metrics.settings import MetricsSettings
from shared.settings import CommonSettings
from shared.sqlviews import (
    StoreNotMigrated,
    create_engine,
    migrate,
    migration_base,
    migration_head,
    prepare_store,
    store_revision,
)
from shared.storeurls import sqlalchemy_url
from tests.stores import postgres_databases, require_postgres

ROOT = Path(__file__).parent.parent / "services"
SERVICES = ("claims", "ledger", "metrics")


def _scripts(service: str) -> Path:
    return ROOT / service / "migrations"


def test_outcomes_migrate_brings_stores_made_by_the_oldest_migration_to_head(
    urls: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engines = {name: create_engine(sqlalchemy_url(urls[name])) for name in SERVICES}
    try:
        for name, engine in engines.items():
            table = f"alembic_version_{name}"
            migrate(engine, _scripts(name), table, migration_base(_scripts(name)))
            assert store_revision(engine, table) == migration_base(_scripts(name))
            assert migration_base(_scripts(name)) != migration_head(_scripts(name))
            with pytest.raises(StoreNotMigrated) as refused:
                prepare_store(engine, _scripts(name), table, name, migrate_now=False)
            assert f"run `outcomes migrate {name}` first" in str(refused.value)
            monkeypatch.setenv(f"{name.upper()}_DATABASE_URL", urls[name])
        assert main(["migrate", "all"]) == 0
        said = capsys.readouterr().out.splitlines()
        for name, engine in engines.items():
            head = migration_head(_scripts(name))
            assert store_revision(engine, f"alembic_version_{name}") == head
            assert f"{name}: migrated to {head}" in said
            prepare_store(engine, _scripts(name), f"alembic_version_{name}", name, False)
        assert main(["migrate", "ledger"]) == 0  # again: nothing to do, and no harm
    finally:
        for engine in engines.values():
            engine.dispose()


def test_a_store_never_migrated_or_migrated_by_newer_code_is_refused(tmp_path: Path) -> None:
    engine = create_engine(sqlalchemy_url(f"sqlite:///{tmp_path / 'claims.sqlite'}"))
    try:
        scripts, table = _scripts("claims"), "alembic_version_claims"
        with pytest.raises(StoreNotMigrated, match="has never been migrated: run `outcomes mig"):
            prepare_store(engine, scripts, table, "claims", migrate_now=False)
        prepare_store(engine, scripts, table, "claims", migrate_now=True)
        assert store_revision(engine, table) == migration_head(scripts)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE alembic_version_claims SET version_num = '2099_01_01_0001'"
            )
        with pytest.raises(StoreNotMigrated, match="2099_01_01_0001, which this code does not"):
            prepare_store(engine, scripts, table, "claims", migrate_now=False)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("name", "factory", "settings"),
    [
        ("claims", claims_app, ClaimsSettings),
        ("ledger", ledger_app, LedgerSettings),
        ("metrics", metrics_app, MetricsSettings),
    ],
)
async def test_a_service_will_not_start_on_an_unmigrated_store_unless_told_to_migrate(
    tmp_path: Path, name: str, factory: object, settings: type
) -> None:
    refusing = CommonSettings(env="test", data_dir=tmp_path, migrate_on_start=False)
    app = factory(settings(), refusing)  # type: ignore[operator]
    with pytest.raises(StoreNotMigrated, match=f"outcomes migrate {name}"):
        async with app.router.lifespan_context(app):
            pass
    migrating = CommonSettings(env="test", data_dir=tmp_path, migrate_on_start=True)
    app = factory(settings(), migrating)  # type: ignore[operator]
    async with app.router.lifespan_context(app):
        pass
    app = factory(settings(), refusing)  # type: ignore[operator]
    async with app.router.lifespan_context(app):  # migrated now: it starts
        pass


def test_processes_migrating_one_postgresql_store_at_once_all_succeed() -> None:
    """Issue 20, point 7: the workers of a service started with ``--migrate --workers 2`` migrate
    its store at the same moment; one created the version table and the other failed to start
    (duplicate key in pg_type) until migrations took an advisory lock."""
    require_postgres()
    scripts = _scripts("claims")
    with postgres_databases() as urls:
        engines = [create_engine(sqlalchemy_url(urls["claims"])) for _ in range(4)]
        start = threading.Barrier(len(engines))
        failures: list[BaseException] = []

        def migrating(engine: Engine) -> None:
            start.wait(10)
            try:
                migrate(engine, scripts, "alembic_version_claims")
            except BaseException as failure:
                failures.append(failure)

        threads = [threading.Thread(target=migrating, args=(e,)) for e in engines]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert failures == []
            assert store_revision(engines[0], "alembic_version_claims") == migration_head(scripts)
        finally:
            for engine in engines:
                engine.dispose()
