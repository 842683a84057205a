"""Personal data over HTTP: who sees it, and the administrator's erasure."""

from __future__ import annotations

import httpx
import pytest

from tests.claims.conftest import Auth, load_examples

CONTRACT = "homelessness-prevention"
PROVIDER = "shelter-partners"
NOTES = "Left-Penhallow-Court-flat-in-March-5813"
EVENTS = f"/v1/contracts/{CONTRACT}/events"


@pytest.fixture
async def client(service: httpx.AsyncClient, auth: Auth) -> httpx.AsyncClient:
    await load_examples(service, auth("admin"), CONTRACT)
    return service


async def post_referral(client: httpx.AsyncClient, auth: Auth, **attributes: object) -> str:
    body = {
        "event_id": "r1",
        "participant_ref": "case-17",
        "type": "referral",
        "occurred_on": "2025-05-01",
        "attributes": {"household": "single", "age": 30, **attributes},
    }
    response = await client.post(EVENTS, json=body, headers=auth("provider", provider_id=PROVIDER))
    assert response.status_code == 201, response.text
    participant_id: str = response.json()["participant_id"]
    return participant_id


async def test_the_provider_and_auditors_read_personal_attributes_others_do_not(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    participant_id = await post_referral(client, auth, support_notes=NOTES)
    url = f"/v1/contracts/{CONTRACT}/participants/{participant_id}"
    for headers in (auth("provider", provider_id=PROVIDER), auth("auditor")):
        body = (await client.get(url, headers=headers)).json()
        assert body["personal_data"] == "held"
        [event] = body["events"]
        assert event["attributes"] == {"household": "single", "age": 30}
        assert event["personal_attributes"] == {"support_notes": NOTES}
    for headers in (auth("verifier"), auth("admin")):
        response = await client.get(url, headers=headers)
        assert response.status_code == 200
        assert response.json()["personal_data"] == "withheld"
        assert NOTES not in response.text


async def test_an_administrator_erases_and_the_participant_stays(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    participant_id = await post_referral(client, auth, support_notes=NOTES)
    url = f"/v1/contracts/{CONTRACT}/participants/{participant_id}"
    before = (await client.get(url, headers=auth("auditor"))).json()

    for headers in (auth("provider", provider_id=PROVIDER), auth("auditor"), auth("verifier")):
        refused = await client.delete(f"{url}/personal-data", headers=headers)
        assert refused.status_code == 403
    erased = await client.delete(f"{url}/personal-data", headers=auth("admin"))
    assert erased.status_code == 200, erased.text
    assert erased.json()["sealed_events"] == 1 and erased.json()["first"] is True
    again = await client.delete(f"{url}/personal-data", headers=auth("admin"))
    assert again.json()["first"] is False
    assert again.json()["erased_at"] == erased.json()["erased_at"]

    after = (await client.get(url, headers=auth("auditor"))).json()
    assert after["personal_data"] == "erased"
    assert after["events"][0]["personal_attributes"] is None
    assert NOTES not in str(after)
    assert after["claims"] == before["claims"]
    assert after["eligibility"] == before["eligibility"]


async def test_personal_data_for_an_erased_participant_is_a_409_recording_nothing(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    participant_id = await post_referral(client, auth)
    url = f"/v1/contracts/{CONTRACT}/participants/{participant_id}"
    await client.delete(f"{url}/personal-data", headers=auth("admin"))
    head = (await client.get("/feed?after=0&limit=1000", headers=auth("auditor"))).json()
    body = {
        "event_id": "r2",
        "participant_ref": "case-17",
        "type": "referral",
        "occurred_on": "2025-05-02",
        "attributes": {"household": "single", "age": 30, "support_notes": NOTES},
    }
    response = await client.post(EVENTS, json=body, headers=auth("provider", provider_id=PROVIDER))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "support_notes" in response.json()["detail"]
    assert (await client.get("/feed?after=0&limit=1000", headers=auth("auditor"))).json() == head


async def test_erasing_an_unknown_participant_is_404(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.delete(
        f"/v1/contracts/{CONTRACT}/participants/p_{'0' * 32}/personal-data",
        headers=auth("admin"),
    )
    assert response.status_code == 404
