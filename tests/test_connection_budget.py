"""Issue 15, defect 8: the three services, idle on PostgreSQL with their followers running, hold
no more connections than the documented budget (they held 57 between them before)."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from services.claims.api import create_app as claims_app
from services.claims.settings import ClaimsSettings
from services.ledger.api import create_app as ledger_app
from services.ledger.settings import LedgerSettings
from services.metrics.api import create_app as metrics_app
from services.metrics.settings import MetricsSettings
from shared.settings import DB_MAX_OVERFLOW, DB_POOL_SIZE, CommonSettings
from tests.conftest import serving
from tests.stores import postgres_admin_url, postgres_databases, require_postgres

# the most any service holds besides its pools: three follower and worker leases, and on claims
# and the ledger one more LISTENing for its feed's long-polls (shared/feed/signal.py)
BACKGROUND_PER_SERVICE = 4
PER_REPLICA_AT_PEAK = 2 * (DB_POOL_SIZE + DB_MAX_OVERFLOW) + BACKGROUND_PER_SERVICE
PER_REPLICA_IDLE = 2 * DB_POOL_SIZE + BACKGROUND_PER_SERVICE


def connections(databases: list[str]) -> int:
    with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = ANY(%s)", (databases,)
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_idle_services_stay_within_the_connection_budget(tmp_path: Path) -> None:
    require_postgres()
    common = CommonSettings(env="test", data_dir=tmp_path)
    with postgres_databases() as urls:
        databases = [urlsplit(url).path.lstrip("/") for url in urls.values()]
        apps = [
            claims_app(ClaimsSettings(database_url=urls["claims"]), common),
            ledger_app(LedgerSettings(database_url=urls["ledger"]), common),
            metrics_app(MetricsSettings(database_url=urls["metrics"]), common),
        ]
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(serving(app)) for app in apps]
            for client in clients:
                assert (await client.get("/healthz")).status_code == 200
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and connections(databases) < 3:
                await asyncio.sleep(0.05)  # the followers take their leases as they start
            held = connections(databases)
        assert 3 <= held <= 3 * PER_REPLICA_IDLE, held
        assert 2 * 3 * PER_REPLICA_AT_PEAK <= 85, "two replicas of each at peak leave 15 of 100"
