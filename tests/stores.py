"""Test stores: SQLite files in a temporary folder, or fresh PostgreSQL databases.

PostgreSQL is found at ``OUTCOMES_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``). Without a server, PostgreSQL tests are
skipped with the reason shown, unless ``OUTCOMES_REQUIRE_POSTGRES=1`` (as in CI), which makes
the absence a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVICES = ("claims", "ledger", "metrics")


def postgres_admin_url() -> str:
    return os.environ.get("OUTCOMES_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def require_postgres() -> None:
    """Skip (or, when required, fail) unless a PostgreSQL server answers."""
    url = postgres_admin_url()
    try:
        with psycopg.connect(url, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL not reachable at {url}: {exc}"
        if os.environ.get("OUTCOMES_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (OUTCOMES_REQUIRE_POSTGRES=1)")
        pytest.skip(message)


def _with_database(url: str, dbname: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{dbname}"


@contextmanager
def postgres_databases(names: tuple[str, ...] = SERVICES) -> Iterator[dict[str, str]]:
    """Create one fresh database per name; drop them afterwards."""
    require_postgres()
    admin = postgres_admin_url()
    run_id = uuid.uuid4().hex[:10]
    created = {name: f"outcomes_test_{run_id}_{name}" for name in names}
    try:  # every database is dropped, even when creating a later one fails
        with psycopg.connect(admin, autocommit=True) as connection:
            # copying the template's files is faster than the WAL-logged copy for small
            # databases, and makes the drop cheaper (PostgreSQL 15 and newer; older copy only)
            strategy = " STRATEGY FILE_COPY" if connection.info.server_version >= 150000 else ""
            for dbname in created.values():
                connection.execute(f'CREATE DATABASE "{dbname}"{strategy}')
        yield {name: _with_database(admin, dbname) for name, dbname in created.items()}
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            for dbname in created.values():
                connection.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@contextmanager
def store_urls(store: str, folder: Path) -> Iterator[dict[str, str]]:
    if store == "postgres":
        with postgres_databases() as urls:
            yield urls
    else:
        yield {name: f"sqlite:///{folder / f'{name}.sqlite'}" for name in SERVICES}


@contextmanager
def migrated_engine(store_url: str, service: str) -> Iterator[Any]:
    """A service's read-model engine on a test store, migrated to the newest revision."""
    from shared.sqlviews import create_engine, migrate
    from shared.storeurls import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(store_url))
    root = Path(__file__).parent.parent / "services" / service / "migrations"
    migrate(engine, root, f"alembic_version_{service}")
    try:
        yield engine
    finally:
        engine.dispose()
