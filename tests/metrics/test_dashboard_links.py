"""Opening the dashboard in a browser: a short-lived link, then an HTTP-only, same-site session
cookie for that contract's page only, carrying the caller's role and provider."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx

from services.metrics.routes.common import SESSION_COOKIE
from services.metrics.routes.dashboard import LINK_TTL_S
from shared.auth import LINK_USE, SESSION_USE, Role, TokenSigner
from tests.metrics.conftest import CONTRACT, REPORTS, Auth

LINKS = f"/v1/contracts/{CONTRACT}/dashboard-links"
PAGE = f"/dashboard/{CONTRACT}"


async def link_for(metrics: httpx.AsyncClient, headers: dict[str, str], **body: str) -> str:
    response = await metrics.post(LINKS, json=body or None, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["url"])


async def test_a_link_opens_a_session_for_that_contracts_page(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    url = await link_for(metrics, auth("provider", provider_id="beta"), month="2026-03")
    opened = await metrics.get(url)
    assert opened.status_code == 303
    assert opened.headers["location"] == f"{PAGE}?month=2026-03"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("HttpOnly", f"Path={PAGE}", "SameSite=strict", "Max-Age=28800"):
        assert attribute in cookie, cookie
    assert "Secure" not in cookie  # plain http in this test; https sets it
    page = await metrics.get(opened.headers["location"])  # the client keeps the cookie
    assert page.status_code == 200, page.text
    assert "alpha" not in page.text.split('id="ranking"')[1].split("</section>")[0]


async def test_the_session_opens_nothing_but_the_page(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    await metrics.get(await link_for(metrics, auth("admin")))
    session = metrics.cookies.get(SESSION_COOKIE)
    assert session
    cookie = {"Cookie": f"{SESSION_COOKIE}={session}"}
    assert (await metrics.get(REPORTS, headers=cookie)).status_code == 401
    assert (await metrics.post(LINKS, headers=cookie)).status_code == 401
    bearer = {"Authorization": f"Bearer {session}"}
    assert (await metrics.get(REPORTS, headers=bearer)).status_code == 401
    assert (await metrics.get(PAGE, headers=bearer)).status_code == 401


async def test_a_link_is_not_a_bearer_token_and_a_bearer_token_is_not_a_link(
    metrics: httpx.AsyncClient, auth: Auth, signer: TokenSigner
) -> None:
    url = await link_for(metrics, auth("admin"))
    link = parse_qs(urlsplit(url).query)["link"][0]
    refused = await metrics.get(REPORTS, headers={"Authorization": f"Bearer {link}"})
    assert refused.status_code == 401
    assert "not made for bearer use" in refused.json()["detail"]
    bearer = signer.issue(Role.ADMIN)
    not_a_link = await metrics.get(f"{PAGE}/open", params={"link": bearer})
    assert not_a_link.status_code == 401
    assert SESSION_COOKIE not in metrics.cookies


async def test_an_expired_or_foreign_link_opens_nothing(
    metrics: httpx.AsyncClient, signer: TokenSigner
) -> None:
    old = signer.issue(
        Role.ADMIN, contract_ids=[CONTRACT], ttl_s=LINK_TTL_S, use=LINK_USE,
        now=time.time() - LINK_TTL_S - 1,
    )  # fmt: skip
    assert (await metrics.get(f"{PAGE}/open", params={"link": old})).status_code == 401
    other = signer.issue(Role.ADMIN, contract_ids=["other"], ttl_s=60, use=LINK_USE)
    assert (await metrics.get(f"{PAGE}/open", params={"link": other})).status_code == 403
    unscoped = signer.issue(Role.ADMIN, ttl_s=60, use=LINK_USE)
    assert (await metrics.get(f"{PAGE}/open", params={"link": unscoped})).status_code == 403
    assert SESSION_COOKIE not in metrics.cookies


async def test_a_session_for_one_contract_does_not_open_another(
    metrics: httpx.AsyncClient, signer: TokenSigner
) -> None:
    session = signer.issue(Role.ADMIN, contract_ids=["other"], ttl_s=60, use=SESSION_USE)
    page = await metrics.get(PAGE, headers={"Cookie": f"{SESSION_COOKIE}={session}"})
    assert page.status_code == 403


async def test_who_may_ask_for_a_link(metrics: httpx.AsyncClient, auth: Auth) -> None:
    outsider = await metrics.post(LINKS, headers=auth("provider", provider_id="gamma"))
    assert outsider.status_code == 403
    unknown = await metrics.post("/v1/contracts/nope/dashboard-links", headers=auth("admin"))
    assert unknown.status_code == 404
    assert (await metrics.post(LINKS)).status_code == 401
    bad_month = await metrics.post(LINKS, json={"month": "2026-13"}, headers=auth("admin"))
    assert bad_month.status_code == 422
