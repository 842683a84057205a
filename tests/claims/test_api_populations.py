"""Population outcomes through HTTP: a late event about a closed quarter answers with the
population claim it changed; closing is an admin's call, idempotent and bounded."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.claims.conftest import load_examples

CONTRACT = "kangaroo-care-dib"
Auth = Callable[..., dict[str, str]]


@pytest.fixture
async def client(service: httpx.AsyncClient, auth: Auth) -> httpx.AsyncClient:
    await load_examples(service, auth("admin"), CONTRACT)
    return service


async def test_an_event_about_a_closed_quarter_answers_with_its_population_claim(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    provider = auth("provider", provider_id="kmc-consortium")
    batch = {
        "events": [
            {
                "event_id": "b1-e",
                "participant_ref": "b1",
                "type": "baby_enrolled",
                "occurred_on": "2025-05-02",
                "attributes": {"birth_weight_grams": 1400, "hospital": "h1"},
            },
            {
                "event_id": "b1-w",
                "participant_ref": "b1",
                "type": "weight_assessed",
                "occurred_on": "2025-06-20",
                "attributes": {"appropriate_gain": True, "gain_g_per_kg_day": "17"},
            },
        ]
    }
    answer = await client.post(
        f"/v1/contracts/{CONTRACT}/events/batch", json=batch, headers=provider
    )
    assert answer.status_code == 201, answer.text
    # 2025-Q2 closed long ago: the population (1 baby, 100 % -> x 1.2) is derived at once, and
    # the claim is listed on the request's last event about the baby
    first, last = answer.json()["results"]
    assert first["claim_ids"] == []
    [claim_id] = last["claim_ids"]
    claim = await client.get(f"/v1/claims/{claim_id}", headers=auth("verifier"))
    assert (claim.json()["outcome_id"], claim.json()["amount"]) == (
        "metric_c_quarterly_weight_gain",
        "96.00",  # 80.00 x 1.2 x 1 baby
    )
    close = f"/v1/contracts/{CONTRACT}/populations/close"
    closed = await client.post(close, headers=auth("admin"))
    assert closed.status_code == 200
    assert closed.json() == {"closed": 0, "claim_ids": [], "more": False}
    assert (await client.post(f"{close}?limit=0", headers=auth("admin"))).status_code == 422
    assert (await client.post(close, headers=provider)).status_code == 403
    unknown = await client.post(
        "/v1/contracts/nothing-here/populations/close", headers=auth("admin")
    )
    assert unknown.status_code == 404
