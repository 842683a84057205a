"""Explain a ledger transaction, and read an account's history, through the ledger API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from services.claims.application import ClaimsApplication
from tests.claims.helpers import OTHER_PROVIDER, PROVIDER
from tests.ledger.test_api import CONTRACT, Auth, book_claims, ledger  # noqa: F401


async def indexed(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> list[Any]:
    """The account's history once the index has caught up with ``count`` postings."""
    url = f"/v1/contracts/{CONTRACT}/accounts/payable:{PROVIDER}/history"
    for _ in range(100):
        response = await client.get(url, headers=headers)
        items: list[Any] = response.json()["items"] if response.status_code == 200 else []
        if len(items) >= count:
            return items
        await asyncio.sleep(0.05)
    raise AssertionError("the transaction index did not catch up")


async def test_a_transaction_is_explained_and_leads_to_its_claim(
    claims: ClaimsApplication,
    ledger: httpx.AsyncClient,  # noqa: F811
    auth: Auth,
) -> None:
    book_claims(claims, ledger)
    history = await indexed(ledger, auth("auditor"), 3)
    transaction_id = history[0]["transaction_id"]
    body = (
        await ledger.get(f"/v1/explain/ledger/{transaction_id}", headers=auth("auditor"))
    ).json()
    transaction = body["transaction"]
    assert transaction["kind"] == "accrual" and transaction["provider_id"] == PROVIDER
    assert sum(e["amount_minor"] for e in transaction["entries"]) == 0
    assert body["claim"]["claim_id"] == transaction["claim_id"]
    assert body["claim"]["explain"].startswith(f"/v1/explain/claims/{transaction['claim_id']}")
    assert [t["transaction_id"] for t in body["claim"]["transactions"]] == [transaction_id]

    text = await ledger.get(
        f"/v1/explain/ledger/{transaction_id}", headers=auth("auditor") | {"Accept": "text/plain"}
    )
    assert text.text.startswith(f"Transaction {transaction_id} (accrual)")
    other = auth("provider", provider_id=OTHER_PROVIDER)
    assert (
        await ledger.get(f"/v1/explain/ledger/{transaction_id}", headers=other)
    ).status_code == 403
    missing = await ledger.get("/v1/explain/ledger/no-such-transaction", headers=auth("admin"))
    assert missing.status_code == 404


async def test_an_account_history_keeps_a_running_balance_and_pages(
    claims: ClaimsApplication,
    ledger: httpx.AsyncClient,  # noqa: F811
    auth: Auth,
) -> None:
    book_claims(claims, ledger)
    items = await indexed(ledger, auth("auditor"), 3)
    assert [i["amount_minor"] for i in items] == [-50_000, -150_000, -250_000]
    assert [i["balance_minor"] for i in items] == [-50_000, -200_000, -450_000]
    assert {(i["actor"], i["rulebook_version"]) for i in items} == {("system:ledger", 1)}
    url = f"/v1/contracts/{CONTRACT}/accounts/payable:{PROVIDER}/history"
    first = (await ledger.get(url, params={"limit": 2}, headers=auth("auditor"))).json()
    rest = (
        await ledger.get(url, params={"after": first["next_after"]}, headers=auth("auditor"))
    ).json()
    assert first["items"] + rest["items"] == items and rest["next_after"] is None
    own = await ledger.get(url, headers=auth("provider", provider_id=PROVIDER))
    assert own.status_code == 200
    other = await ledger.get(url, headers=auth("provider", provider_id=OTHER_PROVIDER))
    assert other.status_code == 403
    nobook = await ledger.get("/v1/contracts/nope/accounts/paid/history", headers=auth("admin"))
    assert nobook.status_code == 404
