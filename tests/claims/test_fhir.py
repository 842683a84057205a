"""Claims as FHIR R5 resources: every status maps as docs/claims.md says, every resource is
valid for the fhir.resources models (read back from the JSON served), and a page is a searchset
Bundle whose ``next`` link carries the list's cursor."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fhir.resources.bundle import Bundle
from fhir.resources.claim import Claim
from fhir.resources.claimresponse import ClaimResponse

from services.claims.claim import ClaimStatus
from services.claims.fhir import FHIR_JSON, RESPONSE, as_json, claims_bundle
from tests.claims.test_api import Auth, client, wait_for_claims
from tests.claims.test_api_tailing import post_story

__all__ = ["client"]  # the fixture

CLAIM = {
    "claim_id": "0b7f3c1e-1111-4c33-8d0b-0a7c1f2e8b11",
    "contract_id": "ips-employment",
    "provider_id": "northside-ips",
    "participant_id": "p_" + "a" * 32,
    "outcome_id": "job_start",
    "occurred_on": "2026-04-01",
    "amount": "1500.00",
    "currency": "GBP",
}
DOCUMENTED = {  # docs/claims.md, "Mapping to FHIR ClaimResponse"
    "awaiting_evidence": ("active", "queued", "pending"),
    "submitted": ("active", "queued", "pending"),
    "disputed": ("active", "queued", "pending"),
    "verified": ("active", "complete", "approved"),
    "rejected": ("active", "complete", "denied"),
    "rejected_final": ("active", "complete", "denied"),
    "voided": ("cancelled", "complete", None),
    "reversal_requested": ("cancelled", "complete", "denied"),
}


def test_every_status_has_a_mapping_and_it_is_the_documented_one() -> None:
    assert set(RESPONSE) == {status.value for status in ClaimStatus} == set(DOCUMENTED)
    assert dict(RESPONSE) == DOCUMENTED


@pytest.mark.parametrize("status", sorted(DOCUMENTED))
def test_each_status_gives_valid_resources(status: str) -> None:
    bundle = claims_bundle([{**CLAIM, "status": status}], "http://x", {"self": "http://x/q"})
    served = as_json(bundle)
    read = Bundle.model_validate_json(served)  # valid as served
    claim, response = (entry.resource for entry in read.entry or [])
    assert isinstance(claim, Claim) and isinstance(response, ClaimResponse)
    exact = json.loads(served, parse_float=Decimal)["entry"][0]["resource"]
    assert str(exact["total"]["value"]) == "1500.00" and claim.total.currency == "GBP"
    assert claim.patient.identifier.value == CLAIM["participant_id"]
    expected_status, outcome, decision = DOCUMENTED[status]
    assert (response.status, response.outcome) == (expected_status, outcome)
    codes = [c.code for c in response.decision.coding] if response.decision else [None]
    assert codes == [decision]
    assert response.request.reference == f"Claim/{CLAIM['claim_id']}"
    assert (response.total is not None) == (status == "verified")


def test_money_is_written_digit_for_digit_never_through_a_float() -> None:
    """The FHIR models write decimals through a float (…456.78 as …456.8): we do not."""
    large = {**CLAIM, "status": "verified", "amount": "1234567890123456.78"}
    served = as_json(claims_bundle([large], "http://x", {}))
    assert served.count('"value":1234567890123456.78,') == 3  # item net, total, response total
    Bundle.model_validate_json(served)


async def test_a_page_of_claims_is_a_searchset_bundle_with_the_cursor(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    await post_story(client, auth, 0)
    items = await wait_for_claims(client, auth("admin"), 3)
    answer = await client.get(
        "/v1/claims", params={"limit": 2}, headers=auth("admin") | {"Accept": FHIR_JSON}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == FHIR_JSON
    bundle = Bundle.model_validate_json(answer.text)
    assert bundle.type == "searchset"
    resources: list[Any] = [entry.resource for entry in bundle.entry or []]
    assert [type(r).__name__ for r in resources] == ["Claim", "ClaimResponse"] * 2
    assert [r.id for r in resources[::2]] == [i["claim_id"] for i in items[:2]]
    links = {link.relation: link.url for link in bundle.link or []}
    as_json_page = await client.get("/v1/claims", params={"limit": 2}, headers=auth("admin"))
    cursor = parse_qs(urlsplit(links["next"]).query)["after"]
    assert cursor == [str(as_json_page.json()["next_after"])]
    one = await client.get(
        f"/v1/claims/{items[0]['claim_id']}", headers=auth("admin") | {"Accept": FHIR_JSON}
    )
    single = Bundle.model_validate_json(one.text)
    assert [type(e.resource).__name__ for e in single.entry or []] == ["Claim", "ClaimResponse"]
    assert (
        single.entry[0].resource.item[0].productOrService.coding[0].code == items[0]["outcome_id"]
    )
