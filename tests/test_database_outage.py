"""Issue 15, defect 2: with PostgreSQL out of reach, database-backed requests answer 503 with
``Retry-After`` within the bound (they answered 500 after 82 s, or hung for more than 200 s
when the network froze), and the first request after it returns succeeds (it took 31 s). A
TCP proxy stands between the service and PostgreSQL: stopped (connections refused and cut) or
frozen (connections open, nothing answered)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from fastapi import FastAPI

from tests.conftest import IPS_RULEBOOK, over_http, serving
from tests.faults import TcpProxy

BOUND_S = 8.0  # the 5 s connect and checkout timeout, and some room


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}@127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@dataclass
class Proxied:
    """A claims app whose PostgreSQL is reached through a proxy, with one event recorded."""

    app: FastAPI
    proxy: TcpProxy
    admin: dict[str, str]
    provider: dict[str, str]
    events: list[dict[str, Any]]
    url: str = "/v1/contracts/ips-employment/events"

    async def start(self, client: httpx.AsyncClient) -> None:
        registered = await client.post(
            "/v1/contracts",
            content=IPS_RULEBOOK.read_text(),
            headers={**self.admin, "Content-Type": "application/yaml"},
        )
        assert registered.status_code == 201, registered.text
        first = await client.post(self.url, json=self.events[0], headers=self.provider)
        assert first.status_code == 201, first.text

    async def refused_within_the_bound(
        self, client: httpx.AsyncClient, *requests: tuple[str, str, Any, dict[str, str]]
    ) -> None:
        for method, path, body, headers in requests:
            started = time.monotonic()
            refused = await client.request(method, path, json=body, headers=headers)
            took = time.monotonic() - started
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
            assert took < BOUND_S, (method, path, took)
        started = time.monotonic()
        assert (await client.get("/healthz")).status_code == 200  # the process lives
        assert time.monotonic() - started < 1.0


async def test_an_outage_is_503_within_the_bound_and_the_first_request_after_succeeds(
    proxied: Proxied,
) -> None:
    async with serving(proxied.app) as client:
        await proxied.start(client)
        proxied.proxy.stop()  # connections refused, and the open ones cut
        await proxied.refused_within_the_bound(
            client,
            ("POST", proxied.url, proxied.events[1], proxied.provider),
            ("GET", "/v1/contracts/ips-employment/versions", None, proxied.admin),
        )
        proxied.proxy.start()  # the database is back, on the same address
        again = await client.post(proxied.url, json=proxied.events[1], headers=proxied.provider)
        assert again.status_code == 201, again.text


async def test_a_silent_database_is_503_within_the_bound_and_work_resumes_when_it_answers(
    proxied: Proxied,
) -> None:
    """The network freezes: every byte is held and no connection is closed, so neither a
    refused connection nor TCP keepalives (which the proxy's kernel answers) can notice. The
    deadline on each statement's answer does. Served over HTTP, to time what a client sees."""
    with over_http(proxied.app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            await proxied.start(client)
            proxied.proxy.freeze()
            write = ("POST", proxied.url, proxied.events[1], proxied.provider)
            read = ("GET", "/v1/claims?contract_id=ips-employment", None, proxied.admin)
            await proxied.refused_within_the_bound(client, write, read, write)

            proxied.proxy.thaw()  # the database answers again: no restart, no operator
            started = time.monotonic()
            again = await client.post(proxied.url, json=proxied.events[1], headers=proxied.provider)
            assert again.status_code == 201, again.text
            assert time.monotonic() - started < BOUND_S
            listed = await client.get(read[1], headers=proxied.admin)
            assert listed.status_code == 200, listed.text


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
