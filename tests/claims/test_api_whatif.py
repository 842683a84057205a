"""What-if through the claims API: replay under a draft rule book, compare, write nothing."""

from __future__ import annotations

import httpx
import pytest
import yaml

from tests.claims.conftest import Auth, load_examples
from tests.claims.helpers import OTHER_PROVIDER, PROVIDER, ips_document, story_json

URL = "/v1/contracts/ips-employment/what-if"


@pytest.fixture
async def client(service: httpx.AsyncClient, auth: Auth) -> httpx.AsyncClient:
    await load_examples(service, auth("admin"), "ips-employment")
    for provider, ref in ((PROVIDER, "a"), (PROVIDER, "b"), (OTHER_PROVIDER, "c")):
        for event in story_json(ref, ref):
            response = await service.post(
                "/v1/contracts/ips-employment/events",
                json=event,
                headers=auth("provider", provider_id=provider),
            )
            assert response.status_code == 201, response.text
    return service


async def test_the_unchanged_rule_book_differs_in_nothing(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    response = await client.post(URL, json=ips_document(), headers=auth("auditor"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["participants"] == 3
    assert (
        body["differing_claims"] == 0 and body["difference_minor"] == 0 and body["examples"] == []
    )
    job_starts = next(
        row
        for row in body["by_provider_outcome"]
        if (row["provider_id"], row["outcome_id"]) == (PROVIDER, "job_start")
    )
    assert job_starts["actual_claims"] == job_starts["what_if_claims"] == 2
    assert job_starts["actual_minor"] == job_starts["what_if_minor"] == 300_000


async def test_a_higher_job_start_tariff_shows_exactly_what_it_would_cost(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    draft = ips_document()
    job_start = next(o for o in draft["outcomes"] if o["id"] == "job_start")
    job_start["price"] = "1750.00"
    head = (await client.get("/feed?after=0&limit=1000", headers=auth("auditor"))).json()
    response = await client.post(
        URL,
        content=yaml.safe_dump(draft),
        headers=auth("admin") | {"Content-Type": "application/yaml"},
    )
    body = response.json()
    assert body["differing_claims"] == 3 and body["difference_minor"] == 3 * 25_000
    assert {(e["actual_minor"], e["what_if_minor"]) for e in body["examples"]} == {
        (150_000, 175_000)
    }
    assert (await client.get("/feed?after=0&limit=1000", headers=auth("auditor"))).json() == head


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda d: d.update(contract_id="another-contract"), 422),
        (lambda d: d.update(currency="USD"), 422),
        (lambda d: d.pop("providers"), 422),
    ],
)
async def test_a_bad_draft_is_a_clear_4xx(
    client: httpx.AsyncClient, auth: Auth, change: object, status: int
) -> None:
    draft = ips_document()
    change(draft)  # type: ignore[operator]
    response = await client.post(URL, json=draft, headers=auth("admin"))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_only_administrators_and_auditors_ask(client: httpx.AsyncClient, auth: Auth) -> None:
    for headers in (auth("verifier"), auth("provider", provider_id=PROVIDER)):
        assert (await client.post(URL, json=ips_document(), headers=headers)).status_code == 403
