"""The claims API through ASGI: status codes, problem+json, who may do what, limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.claims.conftest import load_examples
from tests.claims.helpers import OTHER_PROVIDER, PROVIDER, ips_document, story_json

EVENTS = "/v1/contracts/ips-employment/events"
Auth = Callable[..., dict[str, str]]


@pytest.fixture
async def client(service: httpx.AsyncClient, auth: Auth) -> httpx.AsyncClient:
    await load_examples(service, auth("admin"), "ips-employment")
    return service


def provider(auth: Auth, provider_id: str = PROVIDER) -> dict[str, str]:
    return auth("provider", provider_id=provider_id)


async def wait_for_claims(
    client: httpx.AsyncClient, headers: dict[str, str], count: int
) -> list[dict[str, Any]]:
    for _ in range(100):
        response = await client.get("/v1/claims?contract_id=ips-employment", headers=headers)
        items: list[dict[str, Any]] = response.json()["items"]
        if len(items) >= count:
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} claims in the index")


async def test_the_story_through_http(client: httpx.AsyncClient, auth: Auth) -> None:
    answers = [await client.post(EVENTS, json=e, headers=provider(auth)) for e in story_json()]
    assert [a.status_code for a in answers] == [201, 201, 201, 201]
    assert [len(a.json()["claim_ids"]) for a in answers] == [0, 1, 1, 1]
    positions = [a.json()["position"] for a in answers]
    assert positions == sorted(positions)
    claims = await wait_for_claims(client, auth("verifier"), 3)
    assert [(c["outcome_id"], c["amount"], c["status"]) for c in claims] == [
        ("engagement", "500.00", "submitted"),
        ("job_start", "1500.00", "submitted"),
        ("sustainment_13_weeks", "2500.00", "submitted"),
    ]
    verified = await client.post(
        f"/v1/claims/{claims[2]['claim_id']}/verify",
        json={"note": "employer confirmed"},
        headers=auth("verifier"),
    )
    assert verified.status_code == 200
    assert verified.json()["status"] == "verified"
    assert verified.json()["trace"]["tier"] == "full_time"


async def test_a_retry_answers_200_with_the_same_body(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    event = story_json()[0]
    first = await client.post(EVENTS, json=event, headers=provider(auth))
    again = await client.post(EVENTS, json=event, headers=provider(auth))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()


async def test_a_changed_body_under_the_same_id_is_409_problem(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    event = story_json()[0]
    await client.post(EVENTS, json=event, headers=provider(auth))
    changed = {**event, "occurred_on": "2026-03-03"}
    response = await client.post(EVENTS, json=changed, headers=provider(auth))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "graduation"}, "type"),
        ({"occurred_on": "2026-02-30"}, "occurred_on"),
        ({"attributes": {"hours_per_week": 20.5}}, "attributes.hours_per_week"),
        ({"attributes": {}}, "attributes.hours_per_week"),
        ({"attributes": {"hours_per_week": 20, "salary": "1"}}, "attributes.salary"),
        ({"surprise": True}, "surprise"),
        ({"event_id": ""}, "event_id"),
    ],
)
async def test_bad_events_are_422_naming_the_field_and_record_nothing(
    client: httpx.AsyncClient, auth: Auth, change: dict[str, Any], field: str
) -> None:
    event = {**story_json()[2], **change}
    head = (await client.get("/feed?after=0&limit=1000", headers=auth("service"))).json()[
        "last_position"
    ]
    response = await client.post(EVENTS, json=event, headers=provider(auth))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    after = (await client.get("/feed?after=0&limit=1000", headers=auth("service"))).json()[
        "last_position"
    ]
    assert after == head


async def test_unknown_contract_and_claim_are_404(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.post(
        "/v1/contracts/nope/events", json=story_json()[0], headers=provider(auth)
    )
    assert response.status_code == 404
    assert (await client.get("/v1/claims/not-a-uuid", headers=auth("admin"))).status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert (await client.get(f"/v1/claims/{missing}", headers=auth("admin"))).status_code == 404
    assert (await client.get("/v1/contracts/nope", headers=auth("admin"))).status_code == 404


async def test_no_token_is_401_and_a_wrong_role_is_403(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    response = await client.post(EVENTS, json=story_json()[0])
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert (
        await client.post(EVENTS, json=story_json()[0], headers=auth("verifier"))
    ).status_code == 403
    assert (
        await client.post("/v1/contracts", json=ips_document(), headers=provider(auth))
    ).status_code == 403
    bad = {"Authorization": "Bearer not.a.token"}
    assert (await client.get("/v1/claims", headers=bad)).status_code == 401


async def test_a_provider_cannot_post_for_a_contract_it_is_not_in(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    response = await client.post(EVENTS, json=story_json()[0], headers=provider(auth, "stranger"))
    assert response.status_code == 403


async def test_a_provider_scoped_to_other_contracts_is_refused(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    headers = auth("provider", provider_id=PROVIDER, contract_ids=["another-contract"])
    assert (await client.post(EVENTS, json=story_json()[0], headers=headers)).status_code == 403


async def test_providers_see_only_their_own_participants_and_claims(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    answers = [await client.post(EVENTS, json=e, headers=provider(auth)) for e in story_json()[:2]]
    participant_id = answers[0].json()["participant_id"]
    own = await client.get(
        f"/v1/contracts/ips-employment/participants/{participant_id}", headers=provider(auth)
    )
    assert own.status_code == 200
    assert [e["type"] for e in own.json()["events"]] == ["referral", "enrollment"]
    assert "case-0042" not in own.text
    other = await client.get(
        f"/v1/contracts/ips-employment/participants/{participant_id}",
        headers=provider(auth, OTHER_PROVIDER),
    )
    assert other.status_code == 403
    [claim] = await wait_for_claims(client, auth("admin"), 1)
    assert (
        await client.get(f"/v1/claims/{claim['claim_id']}", headers=provider(auth, OTHER_PROVIDER))
    ).status_code == 403
    listed = await client.get("/v1/claims", headers=provider(auth, OTHER_PROVIDER))
    assert listed.json()["items"] == []


async def test_a_payer_sees_only_the_contracts_it_pays(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    for event in story_json()[:2]:
        await client.post(EVENTS, json=event, headers=provider(auth))
    [claim] = await wait_for_claims(client, auth("admin"), 1)
    paying = auth("payer", contract_ids=["ips-employment"])
    stranger = auth("payer", contract_ids=["other"])
    assert (await client.get(f"/v1/claims/{claim['claim_id']}", headers=paying)).status_code == 200
    assert (
        await client.get(f"/v1/claims/{claim['claim_id']}", headers=stranger)
    ).status_code == 403
    assert (await client.get("/v1/claims", headers=stranger)).json()["items"] == []
    assert (
        await client.get("/v1/claims?contract_id=ips-employment", headers=stranger)
    ).status_code == 403


async def test_only_verifiers_decide_and_a_second_decision_is_409(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    for event in story_json()[:2]:
        await client.post(EVENTS, json=event, headers=provider(auth))
    [claim] = await wait_for_claims(client, auth("admin"), 1)
    url = f"/v1/claims/{claim['claim_id']}"
    assert (await client.post(f"{url}/verify", headers=provider(auth))).status_code == 403
    assert (
        await client.post(
            f"{url}/reject",
            json={"reason_code": "form_defect", "reason": "teacher comment on the form"},
            headers=auth("verifier"),
        )
    ).status_code == 200
    second = await client.post(f"{url}/verify", headers=auth("verifier"))
    assert second.status_code == 409
    assert second.json()["claim_status"] == "rejected"
    assert (
        await client.post(f"{url}/reject", json={}, headers=auth("verifier"))
    ).status_code == 422


async def test_the_claims_cursor_pages_without_gaps_or_repeats(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    for index in range(3):
        for event in story_json(ref=f"case-{index}", prefix=f"p{index}"):
            await client.post(EVENTS, json=event, headers=provider(auth))
    await wait_for_claims(client, auth("admin"), 9)
    seen: list[str] = []
    after = 0
    while True:
        page = (await client.get(f"/v1/claims?limit=4&after={after}", headers=auth("admin"))).json()
        seen += [c["claim_id"] for c in page["items"]]
        assert page["next_after"] >= after  # every page resumes, the last one too
        if len(page["items"]) < 4:
            break
        after = page["next_after"]
    assert len(seen) == len(set(seen)) == 9


async def test_a_batch_is_all_or_nothing_and_answers_per_item(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    events = story_json()
    bad = [*events[:3], {**events[3], "attributes": {"nope": 1}}]
    refused = await client.post(f"{EVENTS}/batch", json={"events": bad}, headers=provider(auth))
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["events.3.attributes.nope"]
    await client.post(EVENTS, json=events[0], headers=provider(auth))
    accepted = await client.post(f"{EVENTS}/batch", json={"events": events}, headers=provider(auth))
    assert accepted.status_code == 201
    assert [r["status"] for r in accepted.json()["results"]] == [200, 201, 201, 201]
    assert [len(r["claim_ids"]) for r in accepted.json()["results"]] == [0, 1, 1, 1]


async def test_limits_on_batch_size_and_body_size(client: httpx.AsyncClient, auth: Auth) -> None:
    template = story_json()[0]
    too_many = [{**template, "event_id": f"e-{i}"} for i in range(1001)]
    response = await client.post(
        f"{EVENTS}/batch", json={"events": too_many}, headers=provider(auth)
    )
    assert response.status_code == 422
    huge = {**template, "attributes": {"referral_source": "x" * (5 * 1024 * 1024)}}
    response = await client.post(EVENTS, json=huge, headers=provider(auth))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_invalid_rule_book_is_refused_with_every_problem(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    document = ips_document()
    document["contract_id"] = "broken"
    document["outcomes"][0]["trigger"] = "nothing"
    document["currency"] = "gbp"
    response = await client.post("/v1/contracts", json=document, headers=auth("admin"))
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"currency"}
    document["currency"] = "GBP"
    response = await client.post("/v1/contracts", json=document, headers=auth("admin"))
    assert [e["field"] for e in response.json()["errors"]] == ["outcomes.0.trigger"]
    assert (await client.get("/v1/contracts/broken", headers=auth("admin"))).status_code == 404


async def test_contract_reads_are_scoped(client: httpx.AsyncClient, auth: Auth) -> None:
    assert (
        await client.get("/v1/contracts/ips-employment", headers=provider(auth))
    ).status_code == 200
    assert (
        await client.get("/v1/contracts/ips-employment", headers=provider(auth, "stranger"))
    ).status_code == 403
    body = (await client.get("/v1/contracts/ips-employment", headers=auth("auditor"))).json()
    assert body["version"] == 1 and len(body["versions"][0]["document_sha256"]) == 64


async def test_the_feed_needs_a_service_auditor_or_admin_token(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    assert (await client.get("/feed", headers=provider(auth))).status_code == 403
    assert (await client.get("/feed")).status_code == 401
    page = (await client.get("/feed?after=0&limit=1", headers=auth("auditor"))).json()
    assert page["items"][0]["type"] == "contract.registered"
    assert (await client.get("/feed?limit=1001", headers=auth("service"))).status_code == 422


async def test_health_needs_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_a_feed_reader_may_ask_for_some_types_only(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    for event in story_json():
        assert (await client.post(EVENTS, json=event, headers=provider(auth))).status_code == 201
    everything = (await client.get("/feed?limit=1000", headers=auth("admin"))).json()["items"]
    wanted = {"contract.registered", "claim.derived"}
    some = await client.get(
        "/feed", params={"limit": 1000, "types": sorted(wanted)}, headers=auth("admin")
    )
    assert some.status_code == 200
    expected = [e for e in everything if e["type"] in wanted]
    assert some.json()["items"] == expected and len(expected) == 4  # the contract, 3 claims
    # paging by last_position skips what was filtered out, and misses nothing
    after, paged = 0, []
    while True:
        page = (
            await client.get(
                "/feed",
                params={"after": after, "limit": 2, "types": ["claim.derived"]},
                headers=auth("admin"),
            )
        ).json()
        if not page["items"]:
            break
        paged += page["items"]
        after = page["last_position"]
    assert paged == [e for e in everything if e["type"] == "claim.derived"]
    unknown = await client.get("/feed", params={"types": ["claim.nonsense"]}, headers=auth("admin"))
    assert unknown.status_code == 422
    assert "claim.nonsense" in unknown.text
