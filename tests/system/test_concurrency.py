"""The same event, verification and remittance posted 20 times at once: exactly one effect each.

Runs the three services as real processes on PostgreSQL (where writers truly run in parallel).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth import Role, TokenSigner
from tests.claims.helpers import PROVIDER, story_json
from tests.conftest import IPS_RULEBOOK
from tests.stores import postgres_databases
from tests.system.processes import Stack, running_stack, wait_until

pytestmark = pytest.mark.system
TIMES = 20
CONTRACT = "ips-employment"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with postgres_databases() as urls, running_stack(tmp_path, urls) as stack:
        yield stack


def at_once(count: int, call: Any) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def test_twenty_identical_requests_have_one_effect(stack: Stack, signer: TokenSigner) -> None:
    provider = {"Authorization": f"Bearer {signer.issue(Role.PROVIDER, provider_id=PROVIDER)}"}
    verifier = {"Authorization": f"Bearer {signer.issue(Role.VERIFIER)}"}
    payer = {"Authorization": f"Bearer {signer.issue(Role.PAYER, contract_ids=[CONTRACT])}"}
    admin = {"Authorization": f"Bearer {signer.issue(Role.ADMIN)}"}
    claims, ledger = stack.urls["claims"], stack.urls["ledger"]
    assert stack.cli("contracts", "load", str(IPS_RULEBOOK), "--url", claims).returncode == 0
    with httpx.Client(timeout=30.0) as http:
        event = story_json()[0]
        enrolment = story_json()[1]
        http.post(f"{claims}/v1/contracts/{CONTRACT}/events", json=event, headers=provider)

        answers = at_once(
            TIMES,
            lambda: http.post(
                f"{claims}/v1/contracts/{CONTRACT}/events", json=enrolment, headers=provider
            ),
        )
        assert Counter(a.status_code for a in answers) == {201: 1, 200: TIMES - 1}
        assert len({a.text for a in answers}) == 1
        participant_id = answers[0].json()["participant_id"]
        [claim_id] = answers[0].json()["claim_ids"]
        view = http.get(
            f"{claims}/v1/contracts/{CONTRACT}/participants/{participant_id}", headers=provider
        ).json()
        assert [e["event_id"] for e in view["events"]] == ["ev-1", "ev-2"]

        verified = at_once(
            TIMES,
            lambda: http.post(
                f"{claims}/v1/claims/{claim_id}/verify", json={"note": "n"}, headers=verifier
            ),
        )
        assert Counter(v.status_code for v in verified) == {200: 1, 409: TIMES - 1}
        history = http.get(f"{claims}/v1/claims/{claim_id}/history", headers=admin).json()
        assert [h["type"] for h in history].count("claim.verified") == 1

        def payable() -> int:
            response = http.get(f"{ledger}/v1/contracts/{CONTRACT}/balances", headers=admin)
            if response.status_code != 200:
                return 0
            return sum(p["payable_minor"] for p in response.json()["providers"])

        wait_until(lambda: payable() == 50_000, "the ledger to book the claim", 10.0)
        body = {
            "contract_id": CONTRACT,
            "currency": "GBP",
            "lines": [{"payable_id": claim_id, "amount_minor": 20_000}],
        }
        headers = payer | {"Idempotency-Key": "concurrent-remittance-1"}
        paid = at_once(
            TIMES, lambda: http.post(f"{ledger}/v1/remittances", json=body, headers=headers)
        )
        assert Counter(p.status_code for p in paid) == {200: TIMES}
        assert len({p.text for p in paid}) == 1
        balances = http.get(f"{ledger}/v1/contracts/{CONTRACT}/balances", headers=admin).json()
        assert (
            balances["paid_minor"] == 20_000 and balances["providers"][0]["payable_minor"] == 30_000
        )
        feed = http.get(f"{ledger}/feed", params={"limit": 1000}, headers=admin).json()["items"]
        kinds = Counter(e["data"]["kind"] for e in feed if e["type"] == "ledger.transaction_posted")
        assert kinds == {"accrual": 1, "payment": 1}
