"""Issue 15, defect 2 (a frozen network): every PostgreSQL connection the services open waits a
bounded time for each answer. A statement the database does not answer in time fails with a
connection error (503 at the edge) and its connection is closed; migrations are exempt; and
once the server is known to be silent, later statements and connections probe it briefly
until one answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
import sqlalchemy as sa

from shared.pgstore import (
    PROBE_S,
    SILENCE,
    DatabaseSilentError,
    deadline_connection,
    unbounded_statements,
)
from shared.sqlviews import create_engine
from tests.faults import TcpProxy
from tests.stores import postgres_admin_url, require_postgres


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    require_postgres()
    relay = TcpProxy(urlsplit(postgres_admin_url()).port or 5432)
    relay.start()
    yield relay
    relay.thaw()
    relay.stop()


def _dsn(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def test_a_statement_over_the_deadline_fails_and_closes_its_connection() -> None:
    require_postgres()
    with deadline_connection(1.0).connect(postgres_admin_url(), autocommit=True) as connection:
        assert connection.execute("SELECT pg_sleep(0.2), 1").fetchone() == ("", 1)
        started = time.monotonic()
        with pytest.raises(DatabaseSilentError, match="did not answer within 1 s"):
            connection.execute("SELECT pg_sleep(3)")
        assert time.monotonic() - started < 2.0
        assert connection.closed


def test_migrations_run_without_the_deadline() -> None:
    require_postgres()
    connect = deadline_connection(1.0).connect
    with connect(postgres_admin_url(), autocommit=True) as connection, unbounded_statements():
        assert connection.execute("SELECT pg_sleep(1.5), 2").fetchone() == ("", 2)


def test_a_silent_server_is_probed_briefly_until_it_answers(proxy: TcpProxy) -> None:
    server = ("127.0.0.1", str(proxy.port))
    engine = create_engine("postgresql+psycopg://" + _dsn(proxy.port).split("://", 1)[1])
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT 1")).scalar() == 1
        proxy.freeze()
        with pytest.raises(psycopg.errors.ConnectionTimeout):
            deadline_connection(1.0).connect(_dsn(proxy.port), connect_timeout=2)
        assert server in SILENCE  # a connection timed out: the server is known to be silent
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError), engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        assert time.monotonic() - started < PROBE_S + 2 + 1.0  # a probe and a short connect

        proxy.thaw()
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT 1")).scalar() == 1
        assert server not in SILENCE  # the first answer ends it
    finally:
        engine.dispose()
