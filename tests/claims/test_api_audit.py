"""Explain a claim, and a participant's history, through the claims API."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest

from tests.claims.conftest import Auth, load_examples
from tests.claims.helpers import OTHER_PROVIDER, PROVIDER, story_json

EVENTS = "/v1/contracts/ips-employment/events"


@pytest.fixture
async def story(service: httpx.AsyncClient, auth: Auth) -> dict[str, str]:
    await load_examples(service, auth("admin"), "ips-employment")
    answers = [
        (await service.post(EVENTS, json=e, headers=auth("provider", provider_id=PROVIDER))).json()
        for e in story_json()
    ]
    job_start_claim = answers[2]["claim_ids"][0]
    verified = await service.post(
        f"/v1/claims/{job_start_claim}/verify", json={"note": "pay slip"}, headers=auth("verifier")
    )
    assert verified.status_code == 200
    return {"participant_id": answers[0]["participant_id"], "claim_id": job_start_claim}


async def test_a_claim_is_explained_down_to_its_events_and_rules(
    service: httpx.AsyncClient, auth: Auth, story: dict[str, str]
) -> None:
    url = f"/v1/explain/claims/{story['claim_id']}"
    body = (await service.get(url, headers=auth("auditor"))).json()
    assert body["claim"]["amount_minor"] == 150_000 and body["claim"]["status"] == "verified"
    assert body["rulebook"]["version"] == 1 and len(body["rulebook"]["document_sha256"]) == 64
    assert body["rulebook"]["outcome"]["id"] == body["claim"]["outcome_id"] == "job_start"
    assert body["computation"], "the trace of the pricing"
    assert [row["type"] for row in body["history"]] == [
        "claim.derived",
        "claim.submitted",
        "claim.verified",
    ]
    positions = [row["position"] for row in body["history"]]
    assert positions == sorted(positions) and positions[0] > 0
    assert body["history"][-1]["actor"].startswith("verifier")
    rests_on = {row["data"]["event_id"] for row in body["participant_events"]}
    assert "ev-3" in rests_on
    assert all(row["rulebook_version"] == 1 for row in body["participant_events"])

    text = await service.get(url, headers=auth("auditor") | {"Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain")
    assert "Priced under rule book ips-employment version 1" in text.text
    assert "claim.verified by verifier" in text.text


async def test_explain_is_refused_to_another_provider(
    service: httpx.AsyncClient, auth: Auth, story: dict[str, str]
) -> None:
    url = f"/v1/explain/claims/{story['claim_id']}"
    own = await service.get(url, headers=auth("provider", provider_id=PROVIDER))
    assert own.status_code == 200
    other = await service.get(url, headers=auth("provider", provider_id=OTHER_PROVIDER))
    assert other.status_code == 403


async def test_a_participant_history_lists_every_event_with_position_and_version(
    service: httpx.AsyncClient, auth: Auth, story: dict[str, str]
) -> None:
    url = f"/v1/contracts/ips-employment/participants/{story['participant_id']}/history"
    rows = (await service.get(url, headers=auth("auditor"))).json()
    assert rows[0]["type"] == "participant.registered"
    recorded = [row for row in rows if row["type"] == "participant.event_recorded"]
    assert [row["data"]["event_id"] for row in recorded] == ["ev-1", "ev-2", "ev-3", "ev-4"]
    assert all(row["rulebook_version"] == 1 for row in recorded)
    assert all(row["actor"].startswith("provider") for row in recorded)
    positions = [row["position"] for row in rows]
    assert positions == sorted(positions)
    other = await service.get(url, headers=auth("provider", provider_id=OTHER_PROVIDER))
    assert other.status_code == 403


async def claims_list(service: httpx.AsyncClient, auth: Auth, **params: str) -> list[Any]:
    response = await service.get(
        "/v1/claims", params={"contract_id": "ips-employment", **params}, headers=auth("auditor")
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def settled(service: httpx.AsyncClient, auth: Auth, claim_id: str, status: str) -> None:
    for _ in range(100):
        found = {c["claim_id"]: c["status"] for c in await claims_list(service, auth)}
        if found.get(claim_id) == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the claim index never showed {claim_id} {status}")


async def test_a_claim_list_as_known_at_a_past_moment(
    service: httpx.AsyncClient, auth: Auth, story: dict[str, str]
) -> None:
    claim_id = story["claim_id"]
    await settled(service, auth, claim_id, "verified")
    history = (await service.get(f"/v1/claims/{claim_id}/history", headers=auth("auditor"))).json()
    before_verification = history[-1]["recorded_at"]  # just before: a microsecond earlier
    moment = dt.datetime.fromisoformat(before_verification) - dt.timedelta(microseconds=1)
    then = {
        c["claim_id"]: c["status"]
        for c in await claims_list(service, auth, as_known_at=moment.isoformat())
    }
    now = {c["claim_id"]: c["status"] for c in await claims_list(service, auth)}
    assert then[claim_id] == "submitted" and now[claim_id] == "verified"
    assert set(then) == set(now)
    submitted_then = await claims_list(
        service, auth, as_known_at=moment.isoformat(), status="submitted"
    )
    assert claim_id in {c["claim_id"] for c in submitted_then}
    assert await claims_list(service, auth, as_known_at="2000-01-01T00:00:00Z") == []
    naive = await service.get(
        "/v1/claims", params={"as_known_at": "2026-01-01T00:00:00"}, headers=auth("auditor")
    )
    assert naive.status_code == 422
