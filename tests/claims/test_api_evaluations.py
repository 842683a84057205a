"""Evaluation results through HTTP: only an evaluator of the contract posts them, one per cohort,
changed only by a correction; the contract prices them like any trigger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.claims.conftest import load_examples

CONTRACT = "employment-pathways"
PROVIDER = "first-step-staffing"
EVALUATIONS = f"/v1/contracts/{CONTRACT}/evaluations"
Auth = Callable[..., dict[str, str]]


@pytest.fixture
async def client(service: httpx.AsyncClient, auth: Auth) -> httpx.AsyncClient:
    await load_examples(service, auth("admin"), CONTRACT)
    return service


def evaluator(auth: Auth, contract: str = CONTRACT) -> dict[str, str]:
    return auth("evaluator", contract_ids=[contract])


def result(event_id: str = "eval-1", cohort: str = "2025-a", **attributes: Any) -> dict[str, Any]:
    body = {
        "reduction_points": "4.5",
        "interval_low": "1.2",
        "interval_high": "7.9",
        "cohort_size": 120,
        "method": "matched",
    }
    body.update(attributes)
    return {
        "event_id": event_id,
        "provider_id": PROVIDER,
        "cohort_ref": cohort,
        "type": "impact_evaluated",
        "occurred_on": "2026-09-30",
        "attributes": body,
    }


async def head(client: httpx.AsyncClient, auth: Auth) -> int:
    response = await client.get("/feed?limit=1", headers=auth("auditor"))
    position: int = response.json()["head_position"]
    return position


async def claim(client: httpx.AsyncClient, auth: Auth, claim_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/claims/{claim_id}", headers=auth("verifier"))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_an_evaluator_posts_a_result_and_the_contract_prices_it(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    first = await client.post(EVALUATIONS, json=result(), headers=evaluator(auth))
    assert first.status_code == 201, first.text
    [claim_id] = first.json()["claim_ids"]
    priced = await claim(client, auth, claim_id)
    # 250.00 per point per member: 250.00 x 4.5 x 120 = 135,000.00
    assert (priced["outcome_id"], priced["amount"]) == ("impact_payment", "135000.00")
    again = await client.post(EVALUATIONS, json=result(), headers=evaluator(auth))
    assert (again.status_code, again.json()) == (200, first.json())


async def test_a_second_result_for_a_cohort_is_409_and_a_correction_replaces_it(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    first = await client.post(EVALUATIONS, json=result(), headers=evaluator(auth))
    [old_claim] = first.json()["claim_ids"]
    before = await head(client, auth)
    second = await client.post(
        EVALUATIONS, json=result("eval-2", reduction_points="6"), headers=evaluator(auth)
    )
    assert second.status_code == 409
    assert "post a correction" in second.json()["detail"]
    assert await head(client, auth) == before
    correction = {
        key: result()[key] for key in ("provider_id", "type", "occurred_on", "attributes")
    }
    correction["attributes"] = {**correction["attributes"], "cohort_size": 100}
    corrected = await client.post(
        f"{EVALUATIONS}/eval-1/correct",
        json={**correction, "reason": "twenty members were outside the eligible population"},
        headers=evaluator(auth),
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["retired_claim_ids"] == [old_claim]
    [new_claim] = corrected.json()["derived_claim_ids"]
    assert (await claim(client, auth, new_claim))["amount"] == "112500.00"  # 250 x 4.5 x 100
    assert (await claim(client, auth, old_claim))["status"] == "voided"


async def test_only_the_evaluator_posts_results_and_only_results(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    provider = auth("provider", provider_id=PROVIDER)
    as_event = {k: v for k, v in result().items() if k != "provider_id"}
    as_event["participant_ref"] = as_event.pop("cohort_ref")
    before = await head(client, auth)
    refused = await client.post(f"/v1/contracts/{CONTRACT}/events", json=as_event, headers=provider)
    assert refused.status_code == 403
    assert "posted by the contract's evaluator" in refused.json()["detail"]
    referral = result(type="referral")
    referral["type"] = "referral"
    referral["attributes"] = {"referral_route": "self"}
    wrong_type = await client.post(EVALUATIONS, json=referral, headers=evaluator(auth))
    assert wrong_type.status_code == 403
    for headers in (
        provider,
        evaluator(auth, "another-contract"),
        auth("payer", contract_ids=[CONTRACT]),
    ):
        response = await client.post(EVALUATIONS, json=result(), headers=headers)
        assert response.status_code == 403, headers
    assert await head(client, auth) == before


async def test_a_provider_cannot_correct_or_retract_an_evaluation(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    await client.post(EVALUATIONS, json=result(), headers=evaluator(auth))
    provider = auth("provider", provider_id=PROVIDER)
    before = await head(client, auth)
    body = {k: result()[k] for k in ("type", "occurred_on", "attributes")}
    corrected = await client.post(
        f"/v1/contracts/{CONTRACT}/events/eval-1/correct",
        json={**body, "reason": "we would like more"},
        headers=provider,
    )
    retracted = await client.post(
        f"/v1/contracts/{CONTRACT}/events/eval-1/retract",
        json={"reason": "we disagree"},
        headers=provider,
    )
    assert (corrected.status_code, retracted.status_code) == (403, 403)
    assert await head(client, auth) == before
    withdrawn = await client.post(
        f"{EVALUATIONS}/eval-1/retract",
        json={"provider_id": PROVIDER, "reason": "the comparison group was mismatched"},
        headers=evaluator(auth),
    )
    assert withdrawn.status_code == 200
    assert len(withdrawn.json()["retired_claim_ids"]) == 1


async def test_a_malformed_result_is_422_naming_the_field_and_records_nothing(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    before = await head(client, auth)
    missing = result()
    del missing["attributes"]["cohort_size"]
    response = await client.post(EVALUATIONS, json=missing, headers=evaluator(auth))
    assert response.status_code == 422
    assert "attributes.cohort_size" in response.text
    stranger = {**result(), "provider_id": "nobody-we-know"}
    response = await client.post(EVALUATIONS, json=stranger, headers=evaluator(auth))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["provider_id"]
    assert await head(client, auth) == before
