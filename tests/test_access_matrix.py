"""Every route of every service, called as every kind of caller, against its access table.

A route missing from its service's table fails the test, so a new endpoint cannot ship without
saying who may call it. Callers not listed are refused (401 without a token, 403 with one);
listed callers are not refused (they may still get 404 or 422 for the placeholder input).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest
import yaml

from services.claims.access import ACCESS as CLAIMS_ACCESS
from services.claims.api import create_app as claims_app
from services.claims.settings import ClaimsSettings
from services.ledger.access import ACCESS as LEDGER_ACCESS
from services.ledger.api import create_app as ledger_app
from services.ledger.application import ClaimsFeedSink
from services.ledger.settings import LedgerSettings
from services.metrics.access import ACCESS as METRICS_ACCESS
from services.metrics.api import create_app as metrics_app
from services.metrics.readmodels.performance import PerformanceProjector
from services.metrics.settings import MetricsSettings
from shared.access import CALLERS
from shared.auth import Role, TokenSigner
from shared.feed.follower import Follower, LocalFeedSource
from shared.settings import CommonSettings
from shared.sqlviews import SqlSink
from tests.claims.helpers import PROVIDER, story_json
from tests.conftest import IPS_RULEBOOK, serving

CONTRACT = "ips-employment"
QUERIES = {
    "/v1/contracts/{contract_id}/diff": {"from": 1, "to": 1},
    "/v1/payables": {"contract_id": CONTRACT},
    "/v1/contracts/{contract_id}/statements": {"period": "2026-04"},
    "/v1/contracts/{contract_id}/sampling": {"period": "2026-04"},
}


def body_for(path: str, params: dict[str, str]) -> dict[str, Any]:
    """A well-formed body where the contract is named in the body, so scope is what is tested."""
    if path == "/v1/remittances":
        line = {"payable_id": params["claim_id"], "amount_minor": 1}
        return {"contract_id": CONTRACT, "currency": "GBP", "lines": [line]}
    if path == "/v1/subscriptions":
        return SUBSCRIPTION
    if path == "/v1/contracts":  # the contract's own rule book: registered before, same document
        document: dict[str, Any] = json.loads(
            json.dumps(yaml.safe_load(IPS_RULEBOOK.read_text()), default=str)
        )
        return document
    return {}


SUBSCRIPTION = {
    "contract_id": CONTRACT,
    "url": "http://127.0.0.1:9/hooks",  # the discard port: refused at once if ever sent to
    "kinds": ["period.closed"],
    "secret": "whsec_" + "A" * 43 + "=",
}


def tokens(signer: TokenSigner) -> dict[str, dict[str, str]]:
    issued = {
        "admin": signer.issue(Role.ADMIN),
        "auditor": signer.issue(Role.AUDITOR),
        "verifier": signer.issue(Role.VERIFIER),
        "service": signer.issue(Role.SERVICE),
        "payer": signer.issue(Role.PAYER, contract_ids=[CONTRACT]),
        "payer_other": signer.issue(Role.PAYER, contract_ids=["another-contract"]),
        "provider": signer.issue(Role.PROVIDER, provider_id=PROVIDER),
        "provider_other": signer.issue(Role.PROVIDER, provider_id="stranger-provider"),
        "evaluator": signer.issue(Role.EVALUATOR, contract_ids=[CONTRACT]),
        "evaluator_other": signer.issue(Role.EVALUATOR, contract_ids=["another-contract"]),
        "admin_other": signer.issue(Role.ADMIN, contract_ids=["another-contract"]),
        "auditor_other": signer.issue(Role.AUDITOR, contract_ids=["another-contract"]),
        "verifier_other": signer.issue(Role.VERIFIER, contract_ids=["another-contract"]),
    }
    return {"anonymous": {}} | {
        name: {"Authorization": f"Bearer {t}"} for name, t in issued.items()
    }


@pytest.fixture
async def services(
    urls: dict[str, str], common: CommonSettings, signer: TokenSigner
) -> AsyncIterator[dict[str, Any]]:
    """The three services with a contract, a story and a booked claim, on each store."""
    apps = {
        "claims": claims_app(ClaimsSettings(database_url=urls["claims"]), common),
        "ledger": ledger_app(LedgerSettings(database_url=urls["ledger"], follow=False), common),
        "metrics": metrics_app(MetricsSettings(database_url=urls["metrics"], follow=False), common),
    }
    async with (
        serving(apps["claims"]) as claims,
        serving(apps["ledger"]) as ledger,
        serving(apps["metrics"]) as metrics,
    ):
        admin = tokens(signer)["admin"]
        await claims.post(
            "/v1/contracts",
            content=IPS_RULEBOOK.read_text(),
            headers=admin | {"Content-Type": "application/yaml"},
        )
        provider = tokens(signer)["provider"]
        answers = [
            await claims.post(f"/v1/contracts/{CONTRACT}/events", json=e, headers=provider)
            for e in story_json()
        ]
        claim_id = answers[1].json()["claim_ids"][0]
        claims_application = apps["claims"].state.application
        claims_application.verification.verify(UUID(claim_id), "verifier:v", "")
        source = LocalFeedSource(claims_application.read_feed)
        Follower("l", source, ClaimsFeedSink(apps["ledger"].state.application)).catch_up()
        Follower(
            "m",
            source,
            SqlSink(apps["metrics"].state.engine, "claims", PerformanceProjector()),
        ).catch_up()
        transaction_id = next(
            e.data["transaction_id"]
            for e in apps["ledger"].state.application.read_feed(0, 100)
            if e.type == "ledger.transaction_posted"
        )
        await wait_for_index(ledger, f"/v1/explain/ledger/{transaction_id}", tokens(signer))
        made = await ledger.post("/v1/subscriptions", json=SUBSCRIPTION, headers=admin)
        assert made.status_code == 201, made.text
        yield {
            "clients": {"claims": claims, "ledger": ledger, "metrics": metrics},
            "apps": apps,
            "params": {
                "contract_id": CONTRACT,
                "participant_id": answers[0].json()["participant_id"],
                "claim_id": claim_id,
                "event_id": "ev-1",
                "version": "1",
                "period": "2026-01",
                "report": "funnel",
                "transaction_id": transaction_id,
                "account": f"payable:{PROVIDER}",
                "subscription_id": made.json()["subscription_id"],
                "job_id": "00000000-0000-4000-8000-000000000000",
                "amendment_id": "00000000-0000-4000-8000-000000000000",
            },
        }


async def wait_for_index(
    client: httpx.AsyncClient, path: str, headers: dict[str, dict[str, str]]
) -> None:
    """The ledger indexes its transactions from its own feed, a moment after booking them."""
    for _ in range(100):
        if (await client.get(path, headers=headers["admin"])).status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never answered 200")


@pytest.mark.parametrize(
    ("service", "table"),
    [("claims", CLAIMS_ACCESS), ("ledger", LEDGER_ACCESS), ("metrics", METRICS_ACCESS)],
)
async def test_every_route_is_in_the_table_and_enforces_it(
    services: dict[str, Any],
    signer: TokenSigner,
    service: str,
    table: dict[tuple[str, str], frozenset[str]],
) -> None:
    routes = {
        (method.upper(), path)
        for path, item in services["apps"][service].openapi()["paths"].items()
        for method in item
    }
    assert sorted(routes - set(table)) == [], "routes missing from the access table"
    assert sorted(set(table) - routes) == [], "table entries for routes that do not exist"
    client: httpx.AsyncClient = services["clients"][service]
    headers = tokens(signer)
    wrong = []
    for method, path in sorted(routes):
        url = path.format(**services["params"])
        for caller in CALLERS:
            body = body_for(path, services["params"]) if method == "POST" else None
            extra = {"Idempotency-Key": f"matrix-{caller}"} if method == "POST" else {}
            response = await client.request(
                method, url, params=QUERIES.get(path), headers=headers[caller] | extra, json=body
            )
            allowed = caller in table[(method, path)]
            refused = response.status_code in (401, 403)
            expected = 401 if caller == "anonymous" else 403
            if allowed == refused or (not allowed and response.status_code != expected):
                wrong.append(
                    f"{method} {path} as {caller}: {response.status_code} (allowed: {allowed})"
                )
    assert wrong == [], "\n".join(wrong)


async def test_the_openapi_document_needs_no_token(services: dict[str, Any]) -> None:
    for client in services["clients"].values():
        assert (await client.get("/openapi.json")).status_code == 200
