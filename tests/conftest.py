from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from services.claims.application import ClaimsApplication
from shared.auth import Role, TokenSigner
from shared.settings import CommonSettings
from tests.stores import store_urls

if TYPE_CHECKING:
    from tests.test_database_outage import Proxied

# the services built in this process migrate their stores at start, as `--migrate` makes them;
# the system tests' processes are started with the flag itself (tests/system/processes.py)
os.environ["OUTCOMES_MIGRATE_ON_START"] = "true"
# in-process services log warnings and worse (a test of logs sets its own level); the system
# tests' processes log at info into their own files (tests/system/processes.py)
os.environ.setdefault("OUTCOMES_LOG_LEVEL", "warning")

IPS_RULEBOOK = Path(__file__).parent.parent / "examples" / "contracts" / "ips-employment.yaml"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> str:
    """Run the test once per store; PostgreSQL skips (or fails in CI) when absent."""
    return str(request.param)


@pytest.fixture
def urls(store: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    with store_urls(store, tmp_path) as created:
        yield created


@pytest.fixture
def common(tmp_path: Path) -> CommonSettings:
    return CommonSettings(env="test", data_dir=tmp_path)


@pytest.fixture
def signer(common: CommonSettings) -> TokenSigner:
    return TokenSigner.from_settings(common)


@pytest.fixture
def auth(signer: TokenSigner) -> Callable[..., dict[str, str]]:
    """Headers for a role: ``auth("provider", provider_id="northside-ips")``."""

    def headers(role: str, **claims: object) -> dict[str, str]:
        token = signer.issue(Role(role), **claims)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def claims(urls: dict[str, str]) -> Iterator[ClaimsApplication]:
    """A claims application on the test store with the IPS example registered."""
    from tests.claims.helpers import claims_app, ips_rulebook

    application = claims_app(urls["claims"])
    application.contracts.register(ips_rulebook())
    yield application
    application.close()


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client with the app's start-up and shut-down run around it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def register_ips(base: str, headers: dict[str, str]) -> None:
    """Register the IPS example over HTTP at a service served by :func:`over_http`."""
    registered = httpx.post(
        f"{base}/v1/contracts",
        content=IPS_RULEBOOK.read_text(),
        headers={**headers, "Content-Type": "application/yaml"},
    )
    assert registered.status_code == 201, registered.text


@contextmanager
def over_http(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a loopback port, in a thread: its base URL. What a client
    sees (an answer is sent before the access trail is written, as in production)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the service did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Proxied]:
    """A claims app reaching PostgreSQL through a fault proxy (tests/test_database_outage.py)."""
    from services.claims.api import create_app
    from services.claims.settings import ClaimsSettings
    from tests.claims.helpers import PROVIDER, story_json
    from tests.faults import TcpProxy
    from tests.stores import postgres_databases
    from tests.test_database_outage import Proxied, through  # it imports this module

    common = CommonSettings(env="test", data_dir=tmp_path)
    signer = TokenSigner.from_settings(common)
    admin = {"Authorization": f"Bearer {signer.issue(Role.ADMIN)}"}
    provider = {"Authorization": f"Bearer {signer.issue(Role.PROVIDER, provider_id=PROVIDER)}"}
    with postgres_databases(("claims",)) as urls:
        proxy = TcpProxy(urlsplit(urls["claims"]).port or 5432)
        proxy.start()
        settings = ClaimsSettings(
            database_url=through(urls["claims"], proxy.port), population_close_interval_s=0
        )
        try:
            yield Proxied(create_app(settings, common), proxy, admin, provider, story_json())
        finally:
            proxy.thaw()
            proxy.stop()
