"""Issue 21, point 1: ``/healthz`` says the process answers; ``/readyz`` says whether it may take
traffic (its database answers within a bound, its migrations are at head, each follower keeps
up) and, when not, answers 503 with a problem naming what is not ready, within the bound and
never hanging."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from services import healthcheck
from services.claims.api import create_app as claims_app
from services.claims.settings import ClaimsSettings
from services.ledger.api import create_app as ledger_app
from services.ledger.settings import LedgerSettings
from shared.settings import CommonSettings
from tests.conftest import over_http, serving
from tests.test_database_outage import Proxied


async def ready_until(client: httpx.AsyncClient, status: int, within_s: float) -> httpx.Response:
    """Ask ``/readyz`` until it answers ``status`` (a follower's state takes a moment)."""
    deadline = time.monotonic() + within_s
    while True:
        answer = await client.get("/readyz")
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.05)


async def test_a_started_service_is_ready_and_says_what_it_checked(tmp_path: Path) -> None:
    common = CommonSettings(env="test", data_dir=tmp_path)
    async with serving(claims_app(ClaimsSettings(), common)) as client:
        answer = await ready_until(client, 200, 10)
        assert answer.status_code == 200, answer.text
        checks = {check["name"]: check for check in answer.json()["checks"]}
        assert set(checks) == {"database", "migrations", "follower claims-index"}
        assert all(check["ok"] for check in checks.values())
        assert checks["migrations"]["detail"].startswith("at head ")
        assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_probes_at_once_share_one_question_and_are_all_ready(tmp_path: Path) -> None:
    """Thirty readiness probes at once: each waits for the one question in flight (some
    answered 503 "not answered" before, though the database was fine)."""
    common = CommonSettings(env="test", data_dir=tmp_path)
    async with serving(claims_app(ClaimsSettings(), common)) as client:
        assert (await ready_until(client, 200, 10)).status_code == 200
        answers = await asyncio.gather(*[client.get("/readyz") for _ in range(30)])
        assert [a.status_code for a in answers] == [200] * 30, [a.text for a in answers]


async def test_migrations_behind_the_code_are_not_ready(tmp_path: Path) -> None:
    common = CommonSettings(env="test", data_dir=tmp_path)
    async with serving(claims_app(ClaimsSettings(), common)) as client:
        assert (await ready_until(client, 200, 10)).status_code == 200
        engine: sa.Engine = client._transport.app.state.engine  # type: ignore[attr-defined]
        with engine.begin() as connection:
            head = connection.execute(sa.text("SELECT version_num FROM alembic_version_claims"))
            revision = head.scalar_one()
            connection.execute(sa.text("UPDATE alembic_version_claims SET version_num = 'old'"))
        behind = await client.get("/readyz")
        assert behind.status_code == 503, behind.text
        assert behind.headers["content-type"] == "application/problem+json"
        assert behind.headers["retry-after"] == "5"
        assert behind.json()["detail"] == (
            f"migrations: the store is at old, this code needs {revision}"
        )
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE alembic_version_claims SET version_num = :v"), {"v": revision}
            )
        assert (await client.get("/readyz")).status_code == 200


async def test_a_follower_whose_upstream_is_down_makes_its_service_unready(
    tmp_path: Path,
) -> None:
    """The ledger's claims service is down (nothing listens where it should be): once the
    follower has failed for longer than the allowed lag, the ledger is not ready, and says
    which follower and why; its liveness is untouched."""
    common = CommonSettings(env="test", data_dir=tmp_path, ready_max_lag_s=1)
    settings = LedgerSettings(claims_url="http://127.0.0.1:9")  # the discard port: refused
    async with serving(ledger_app(settings, common)) as client:
        answer = await ready_until(client, 503, 15)
        assert answer.status_code == 503, answer.text
        problem = answer.json()
        assert problem["detail"].startswith("follower ledger<-claims: failing for "), problem
        assert "ConnectError" in problem["detail"]
        failing = [check["name"] for check in problem["checks"] if not check["ok"]]
        assert failing == ["follower ledger<-claims"]
        assert (await client.get("/healthz")).status_code == 200


async def test_an_unreachable_database_is_503_within_the_bound(proxied: Proxied) -> None:
    """PostgreSQL goes silent (a frozen proxy): /readyz answers 503 naming the database
    within its 2 s bound, again at once while the question is unanswered, and 200 after."""
    async with serving(proxied.app) as client:
        assert (await ready_until(client, 200, 10)).status_code == 200
        proxied.proxy.freeze()
        for _ in range(2):
            started = time.monotonic()
            silent = await client.get("/readyz")
            assert time.monotonic() - started < 2.5
            assert silent.status_code == 503, silent.text
            assert silent.json()["detail"].startswith("database: ")
        proxied.proxy.thaw()
        assert (await ready_until(client, 200, 15)).status_code == 200


def test_the_container_health_check_asks_readiness(tmp_path: Path) -> None:
    common = CommonSettings(env="test", data_dir=tmp_path)
    with over_http(claims_app(ClaimsSettings(), common)) as base:
        port = urlsplit(base).port
        deadline = time.monotonic() + 10
        while healthcheck.main([str(port)]) != 0:
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.05)
    assert healthcheck.main([str(port)]) == 1  # stopped: nothing answers
