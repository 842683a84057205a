"""Tokens limited to contracts, whatever their role: the contracts list shows each caller what
it may see; another contract, existing or not, is a 403; lists are filtered; what spans
contracts is refused; a verifier limited to one contract decides nothing on another's claims."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.claims.conftest import load_examples
from tests.claims.helpers import PROVIDER, story_json
from tests.claims.test_api import client, wait_for_claims

__all__ = ["client"]  # the fixture

Auth = Callable[..., dict[str, str]]
IPS = "ips-employment"
OTHER = "homelessness-prevention"


async def listed(client: httpx.AsyncClient, headers: dict[str, str], expected: int,
                 **params: Any) -> dict[str, Any]:  # fmt: skip
    """The contracts list once it holds ``expected`` contracts (the index follows the feed)."""
    deadline = time.monotonic() + 20
    while True:
        answer = await client.get("/v1/contracts", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        page: dict[str, Any] = answer.json()
        if len(page["items"]) >= expected or time.monotonic() > deadline:
            return page
        await asyncio.sleep(0.05)


async def test_each_caller_lists_the_contracts_it_may_see(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    await load_examples(client, auth("admin"), OTHER, "basic-health-p4p")
    every = await listed(client, auth("admin"), 3)
    assert [c["contract_id"] for c in every["items"]] == ["basic-health-p4p", OTHER, IPS]
    ips = every["items"][2]
    assert (ips["version"], ips["currency"], ips["provider_ids"]) == (
        1, "GBP", [PROVIDER, "riverside-works"]
    )  # fmt: skip
    first = await listed(client, auth("admin"), 2, limit=2)
    assert [c["contract_id"] for c in first["items"]] == ["basic-health-p4p", OTHER]
    assert first["next_after"] == OTHER
    rest = await listed(client, auth("admin"), 1, limit=2, after=OTHER)
    assert ([c["contract_id"] for c in rest["items"]], rest["next_after"]) == ([IPS], None)
    for role in ("admin", "auditor", "verifier"):
        scoped = await listed(client, auth(role, contract_ids=[OTHER, "no-such-contract"]), 1)
        assert [c["contract_id"] for c in scoped["items"]] == [OTHER]
    payer = await listed(client, auth("payer", subject="treasury", contract_ids=[IPS]), 1)
    assert [c["contract_id"] for c in payer["items"]] == [IPS]
    provider = await listed(client, auth("provider", provider_id=PROVIDER), 1)
    assert [c["contract_id"] for c in provider["items"]] == [IPS]
    bad = await client.get("/v1/contracts", params={"after": "Not An Id!"}, headers=auth("admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "after"


async def test_a_scoped_token_is_refused_alike_on_other_contracts_existing_or_not(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    await load_examples(client, auth("admin"), OTHER)
    for role in ("admin", "auditor", "verifier"):
        headers = auth(role, contract_ids=[IPS])
        assert (await client.get(f"/v1/contracts/{IPS}", headers=headers)).status_code == 200
        existing = await client.get(f"/v1/contracts/{OTHER}", headers=headers)
        missing = await client.get("/v1/contracts/no-such-contract", headers=headers)
        assert existing.status_code == missing.status_code == 403
        assert existing.json()["detail"].replace(OTHER, "X") == missing.json()["detail"].replace(
            "no-such-contract", "X"
        )
        for spanning in ("/feed", "/v1/audit/access-trail", "/v1/audit/digest"):
            assert (await client.get(spanning, headers=headers)).status_code == 403, spanning
    admin_of_other = auth("admin", contract_ids=[OTHER])
    text = (await client.get(f"/v1/contracts/{IPS}/versions/1", headers=auth("admin"))).json()
    again = await client.post("/v1/contracts", json=text, headers=admin_of_other)
    assert again.status_code == 403, again.text


async def test_a_verifier_limited_to_a_contract_reads_and_decides_only_its_claims(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    for event in story_json():
        posted = await client.post(
            f"/v1/contracts/{IPS}/events", json=event,
            headers=auth("provider", provider_id=PROVIDER),
        )  # fmt: skip
        assert posted.status_code == 201, posted.text
    claims = await wait_for_claims(client, auth("admin"), 3)
    claim_id = claims[0]["claim_id"]
    elsewhere = auth("verifier", contract_ids=[OTHER])
    assert (await client.get(f"/v1/claims/{claim_id}", headers=elsewhere)).status_code == 403
    assert (await client.get("/v1/claims", headers=elsewhere)).json()["items"] == []
    verify = await client.post(f"/v1/claims/{claim_id}/verify", headers=elsewhere)
    assert verify.status_code == 403
    decisions = {"decisions": [{"claim_id": claim_id, "action": "verify"}]}
    refused = await client.post(
        "/v1/claims/decisions", json=decisions,
        headers=elsewhere | {"Idempotency-Key": "scoped-verifier-1"},
    )  # fmt: skip
    assert refused.status_code == 403, refused.text
    claim = await client.get(f"/v1/claims/{claim_id}", headers=auth("admin"))
    assert claim.json()["status"] == claims[0]["status"]  # nothing was decided
    own = auth("verifier", contract_ids=[IPS])
    assert len((await client.get("/v1/claims", headers=own)).json()["items"]) == 3
    verified = await client.post(f"/v1/claims/{claim_id}/verify", headers=own)
    assert verified.status_code == 200 and verified.json()["status"] == "verified"
