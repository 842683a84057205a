"""Issue 15, defect 2: with PostgreSQL out of reach, database-backed requests answer 503 with
``Retry-After`` within the bound (they answered 500 after 82 s), and the first request after
it returns succeeds (it took 31 s). A TCP proxy stands between the service and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from services.claims.api import create_app
from services.claims.settings import ClaimsSettings
from shared.auth import Role, TokenSigner
from shared.settings import CommonSettings
from tests.claims.helpers import PROVIDER, story_json
from tests.conftest import IPS_RULEBOOK, serving
from tests.faults import TcpProxy
from tests.stores import postgres_databases

BOUND_S = 8.0  # the 5 s connect and checkout timeout, and some room


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}@127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


async def test_an_outage_is_503_within_the_bound_and_the_first_request_after_succeeds(
    tmp_path: Path,
) -> None:
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
            async with serving(create_app(settings, common)) as client:
                registered = await client.post(
                    "/v1/contracts",
                    content=IPS_RULEBOOK.read_text(),
                    headers={**admin, "Content-Type": "application/yaml"},
                )
                assert registered.status_code == 201, registered.text
                events = story_json()
                first = await client.post(
                    "/v1/contracts/ips-employment/events", json=events[0], headers=provider
                )
                assert first.status_code == 201

                proxy.stop()  # connections refused, and the open ones cut
                for method, url, body, headers in (
                    ("POST", "/v1/contracts/ips-employment/events", events[1], provider),
                    ("GET", "/v1/contracts/ips-employment/versions", None, admin),
                ):
                    started = time.monotonic()
                    refused = await client.request(method, url, json=body, headers=headers)
                    took = time.monotonic() - started
                    assert refused.status_code == 503, refused.text
                    assert refused.headers["retry-after"] == "5"
                    assert took < BOUND_S, took
                assert (await client.get("/healthz")).status_code == 200  # the process lives

                proxy.start()  # the database is back, on the same address
                again = await client.post(
                    "/v1/contracts/ips-employment/events", json=events[1], headers=provider
                )
                assert again.status_code == 201, again.text
        finally:
            proxy.stop()


def test_the_proxy_helper_forwards_and_refuses() -> None:
    """The fault helper itself: it forwards while started, and refuses once stopped."""
    proxy = TcpProxy(1)  # nothing listens on port 1: a connection is accepted, then cut
    proxy.start()
    try:
        with httpx.Client(timeout=2.0) as client:
            try:
                client.get(f"http://127.0.0.1:{proxy.port}/")
            except httpx.TransportError:
                pass
            else:
                raise AssertionError("a connection to nothing should fail")
    finally:
        proxy.stop()
    try:
        httpx.get(f"http://127.0.0.1:{proxy.port}/", timeout=2.0)
    except httpx.ConnectError:
        return
    raise AssertionError("a stopped proxy should refuse")
