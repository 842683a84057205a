"""Rule books over HTTP: YAML with line numbers, versions, diffs, corrections, eligibility."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from tests.claims.helpers import OTHER_PROVIDER, PROVIDER, story_json
from tests.conftest import IPS_RULEBOOK

Auth = Callable[..., dict[str, str]]
EXAMPLES = Path(__file__).parents[2] / "examples" / "contracts"
EVENTS = "/v1/contracts/ips-employment/events"
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
def client(service: httpx.AsyncClient) -> httpx.AsyncClient:
    return service


async def register(client: httpx.AsyncClient, auth: Auth, text: str) -> httpx.Response:
    return await client.post(
        "/v1/contracts", content=text.encode(), headers={**auth("admin"), **YAML}
    )


async def test_every_example_registers_from_yaml(client: httpx.AsyncClient, auth: Auth) -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        response = await register(client, auth, path.read_text())
        assert response.status_code == 201, (path.name, response.text)
        assert response.json() == {"contract_id": path.stem, "version": 1}


async def test_yaml_problems_come_back_with_their_lines(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    text = IPS_RULEBOOK.read_text().replace("trigger: job_sustained", "trigger: job_kept")
    text = text.replace('price: "1500.00"', 'price: "1500.005"')
    response = await register(client, auth, text)
    assert response.status_code == 422
    lines = text.splitlines()
    errors = {e["field"]: e for e in response.json()["errors"]}
    assert set(errors) == {"outcomes.2.trigger", "outcomes.1.price"}
    assert lines[errors["outcomes.2.trigger"]["line"] - 1].strip() == "trigger: job_kept"
    assert lines[errors["outcomes.1.price"]["line"] - 1].strip() == 'price: "1500.005"'
    assert (
        await client.get("/v1/contracts/ips-employment", headers=auth("admin"))
    ).status_code == 404


async def test_unreadable_documents_are_422(client: httpx.AsyncClient, auth: Auth) -> None:
    for text in ("name: [", "a: &x 1\nb: *x\n", "- 1\n- 2\n", "name: a\nname: b\n"):
        response = await register(client, auth, text)
        assert response.status_code == 422, text
    response = await client.post(
        "/v1/contracts", content=b"\xff\xfe", headers={**auth("admin"), **YAML}
    )
    assert response.status_code == 422


async def test_versions_and_a_readable_diff(client: httpx.AsyncClient, auth: Auth) -> None:
    first = yaml.safe_load(IPS_RULEBOOK.read_text())
    await client.post("/v1/contracts", json=first, headers=auth("admin"))
    second = {**first, "effective_from": (dt.date.today() + dt.timedelta(days=30)).isoformat()}
    second["outcomes"] = [dict(o) for o in first["outcomes"]]
    second["outcomes"][1]["price"] = "1750.00"
    response = await client.post("/v1/contracts", json=second, headers=auth("admin"))
    assert response.json() == {"contract_id": "ips-employment", "version": 2}
    versions = (
        await client.get("/v1/contracts/ips-employment/versions", headers=auth("auditor"))
    ).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["effective_from"] == second["effective_from"]
    document = (
        await client.get("/v1/contracts/ips-employment/versions/1", headers=auth("auditor"))
    ).json()
    assert document["outcomes"][1]["price"] == "1500.00"
    diff = (
        await client.get("/v1/contracts/ips-employment/diff?from=1&to=2", headers=auth("auditor"))
    ).json()
    assert diff["text"].splitlines() == [
        f"~ effective_from: '2025-01-01' -> '{second['effective_from']}'",
        "~ outcomes[job_start].price: '1500.00' -> '1750.00'",
    ]
    missing = await client.get("/v1/contracts/ips-employment/versions/3", headers=auth("auditor"))
    assert missing.status_code == 404


async def test_corrections_and_retractions_over_http(client: httpx.AsyncClient, auth: Auth) -> None:
    await register(client, auth, IPS_RULEBOOK.read_text())
    provider = auth("provider", provider_id=PROVIDER)
    for event in story_json():
        await client.post(EVENTS, json=event, headers=provider)
    body = {
        "type": "job_start",
        "occurred_on": "2026-04-01",
        "attributes": {"hours_per_week": 10},
        "reason": "typo",
    }
    corrected = await client.post(f"{EVENTS}/ev-3/correct", json=body, headers=provider)
    assert corrected.status_code == 200
    assert corrected.json()["changed"] is True
    assert len(corrected.json()["retired_claim_ids"]) == 1
    other = auth("provider", provider_id=OTHER_PROVIDER)
    assert (
        await client.post(f"{EVENTS}/ev-3/retract", json={"reason": "x"}, headers=other)
    ).status_code == 404
    assert (
        await client.post(f"{EVENTS}/ev-3/retract", json={"reason": "x"}, headers=auth("verifier"))
    ).status_code == 403
    assert (
        await client.post(f"{EVENTS}/ev-3/retract", json={}, headers=provider)
    ).status_code == 422
    retracted = await client.post(
        f"{EVENTS}/ev-3/retract", json={"reason": "wrong person"}, headers=provider
    )
    assert retracted.status_code == 200
    again = await client.post(
        f"{EVENTS}/ev-3/correct",
        json=body | {"attributes": {"hours_per_week": 40}},
        headers=provider,
    )
    assert again.status_code == 409
    participant_id = corrected.json()["participant_id"]
    view = (
        await client.get(
            f"/v1/contracts/ips-employment/participants/{participant_id}", headers=provider
        )
    ).json()
    by_id = {e["event_id"]: e for e in view["events"]}
    assert by_id["ev-3"]["retracted"] is True and by_id["ev-3"]["corrections"] == 1
    assert [c["claim_key"] for c in view["claims"]] == ["engagement"]


async def test_ineligibility_is_visible_on_the_participant(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    await register(client, auth, (EXAMPLES / "homelessness-prevention.yaml").read_text())
    provider = auth("provider", provider_id="shelter-partners")
    url = "/v1/contracts/homelessness-prevention/events"
    events = [
        {
            "event_id": "f1",
            "participant_ref": "fam-1",
            "type": "referral",
            "occurred_on": "2025-05-01",
            "attributes": {"household": "family", "age": 35},
        },
        {
            "event_id": "f2",
            "participant_ref": "fam-1",
            "type": "housing_plan_completed",
            "occurred_on": "2025-05-10",
        },
    ]
    answers = [await client.post(url, json=e, headers=provider) for e in events]
    assert [a.json()["claim_ids"] for a in answers] == [[], []]
    participant_id = answers[0].json()["participant_id"]
    view = await client.get(
        f"/v1/contracts/homelessness-prevention/participants/{participant_id}", headers=provider
    )
    assert view.json()["eligibility"] == {
        "eligible": False,
        "reasons": ["condition 0 does not hold"],
    }
    assert [e["event_id"] for e in view.json()["events"]] == ["f1", "f2"]


async def test_problems_with_the_new_constructs_come_back_with_their_lines(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    text = (EXAMPLES / "employment-pathways.yaml").read_text()
    text = text.replace(
        "absent: {event: arrest, window: {period: month}}", "absent: {event: arest}"
    )
    text = text.replace('maximum_amount: "200000.00"', 'maximum_amount: "200000.005"')
    response = await register(client, auth, text)
    assert response.status_code == 422, response.text
    lines = text.splitlines()
    errors = {e["field"]: e for e in response.json()["errors"]}
    assert set(errors) == {"outcomes.3.conditions.1.absent.event", "outcomes.4.maximum_amount"}
    assert (
        "absent: {event: arest}"
        in lines[errors["outcomes.3.conditions.1.absent.event"]["line"] - 1]
    )
    assert "200000.005" in lines[errors["outcomes.4.maximum_amount"]["line"] - 1]
