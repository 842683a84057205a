"""Verification over HTTP: each path of the lifecycle, modes, bulk decisions, the payer's pull."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.claims.claim import is_sampled
from tests.claims.conftest import load_examples
from tests.claims.helpers import PROVIDER, story_json

Auth = Callable[..., dict[str, str]]
EXAMPLES = Path(__file__).parents[2] / "examples" / "contracts"
YAML = {"Content-Type": "application/yaml"}
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.fixture
async def client(service: httpx.AsyncClient, auth: Auth) -> httpx.AsyncClient:
    examples = (
        "ips-employment",
        "teens-and-toddlers",
        "workforce-access-points",
        "basic-health-p4p",
    )
    await load_examples(service, auth("admin"), *examples)
    return service


async def post_events(
    client: httpx.AsyncClient, headers: dict[str, str], contract: str, events: list[dict[str, Any]]
) -> list[str]:
    claim_ids: list[str] = []
    for event in events:
        response = await client.post(
            f"/v1/contracts/{contract}/events", json=event, headers=headers
        )
        assert response.status_code == 201, response.text
        claim_ids += response.json()["claim_ids"]
    return claim_ids


async def indexed(
    client: httpx.AsyncClient, auth: Auth, query: str, count: int
) -> list[dict[str, Any]]:
    for _ in range(100):
        items: list[dict[str, Any]] = (
            await client.get(f"/v1/claims?{query}", headers=auth("admin"))
        ).json()["items"]
        if len(items) >= count:
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} claims for {query}")


def ips_claims(client: httpx.AsyncClient, auth: Auth) -> Any:
    return post_events(
        client, auth("provider", provider_id=PROVIDER), "ips-employment", story_json()
    )


def tt_events(ref: str) -> list[dict[str, Any]]:
    def event(n: int, kind: str, day: str, attributes: dict[str, Any]) -> dict[str, Any]:
        return {
            "event_id": f"{ref}-{n}",
            "participant_ref": ref,
            "type": kind,
            "occurred_on": day,
            "attributes": attributes,
        }

    return [
        event(1, "cohort_started", "2025-09-10", {"school": "Hillside"}),
        event(2, "stage_one_attendance", "2026-01-15", {"attendance_percent": 80}),
        event(3, "qualification_gained", "2026-03-01", {"level": "level_1"}),
    ]


async def test_evidence_completes_a_claim_and_a_verifier_verifies_it(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    provider = auth("provider", provider_id="tt-london")
    [claim_id] = await post_events(client, provider, "teens-and-toddlers", tt_events("yp-1"))
    url = f"/v1/claims/{claim_id}"
    waiting = (await client.get(url, headers=provider)).json()
    assert (waiting["status"], waiting["missing_evidence"]) == (
        "awaiting_evidence",
        ["qualification_certificate"],
    )
    assert (await client.post(f"{url}/verify", headers=auth("verifier"))).status_code == 409
    wrong = {"evidence_type": "assessment_form", "sha256": SHA, "issued_on": "2026-03-01"}
    assert (await client.post(f"{url}/evidence", json=wrong, headers=provider)).status_code == 422
    evidence = {
        "evidence_type": "qualification_certificate",
        "sha256": SHA,
        "uri": "https://docs.example/c/1",
        "issued_on": "2026-03-01",
    }
    attached = await client.post(f"{url}/evidence", json=evidence, headers=provider)
    assert attached.status_code == 200
    assert attached.json()["status"] == "submitted" and attached.json()["missing_evidence"] == []
    verified = await client.post(
        f"{url}/verify", json={"note": "certificate seen"}, headers=auth("verifier")
    )
    assert verified.json()["status"] == "verified"
    history = (await client.get(f"{url}/history", headers=auth("auditor"))).json()
    assert [(h["type"], h["status"]) for h in history] == [
        ("claim.derived", "awaiting_evidence"),
        ("claim.evidence_attached", None),
        ("claim.submitted", "submitted"),
        ("claim.verified", "verified"),
    ]
    assert history[3]["actor"] == "verifier:verifier" and history[3]["note"] == "certificate seen"
    positions = [h["position"] for h in history]
    assert positions == sorted(positions) and positions[0] > 0
    assert {h["rulebook_version"] for h in history} == {1}


async def test_rejected_disputed_verified_and_rejected_final(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    claims = await ips_claims(client, auth)
    provider, verifier = auth("provider", provider_id=PROVIDER), auth("verifier")
    reject = {"reason_code": "form_defect", "reason": "unsigned form"}
    for claim_id in claims[:2]:
        assert (
            await client.post(f"/v1/claims/{claim_id}/reject", json=reject, headers=verifier)
        ).json()["status"] == "rejected"
        disputed = await client.post(
            f"/v1/claims/{claim_id}/dispute",
            json={"note": "signed copy attached"},
            headers=provider,
        )
        assert disputed.json()["status"] == "disputed"
    assert (await client.post(f"/v1/claims/{claims[0]}/verify", headers=verifier)).json()[
        "status"
    ] == "verified"
    final = await client.post(f"/v1/claims/{claims[1]}/reject", json=reject, headers=verifier)
    assert final.json()["status"] == "rejected_final"
    again = await client.post(
        f"/v1/claims/{claims[1]}/dispute", json={"note": "please"}, headers=provider
    )
    assert again.status_code == 409 and again.json()["claim_status"] == "rejected_final"


async def test_an_unknown_reason_code_is_422_and_changes_nothing(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    [claim_id, *_] = await ips_claims(client, auth)
    bad = {"reason_code": "dont_like_it", "reason": "no"}
    response = await client.post(
        f"/v1/claims/{claim_id}/reject", json=bad, headers=auth("verifier")
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "reason_code"
    assert (await client.get(f"/v1/claims/{claim_id}", headers=auth("admin"))).json()[
        "status"
    ] == "submitted"


async def test_separation_of_duties(client: httpx.AsyncClient, auth: Auth) -> None:
    [claim_id, *_] = await ips_claims(client, auth)
    provider = auth("provider", provider_id=PROVIDER)
    assert (await client.post(f"/v1/claims/{claim_id}/verify", headers=provider)).status_code == 403
    decisions = {"decisions": [{"claim_id": claim_id, "action": "verify"}]}
    assert (
        await client.post(
            "/v1/claims/decisions",
            json=decisions,
            headers={**provider, "Idempotency-Key": "key-00001"},
        )
    ).status_code == 403
    event = story_json(ref="v-1", prefix="v")[0]
    assert (
        await client.post(
            "/v1/contracts/ips-employment/events", json=event, headers=auth("verifier")
        )
    ).status_code == 403
    reject = {"reason_code": "duplicate", "reason": "x"}
    await client.post(f"/v1/claims/{claim_id}/reject", json=reject, headers=auth("verifier"))
    assert (
        await client.post(
            f"/v1/claims/{claim_id}/dispute", json={"note": "n"}, headers=auth("verifier")
        )
    ).status_code == 403
    other = auth("provider", provider_id="riverside-works")
    assert (
        await client.post(f"/v1/claims/{claim_id}/dispute", json={"note": "n"}, headers=other)
    ).status_code == 403
    payer_elsewhere = auth("payer", contract_ids=["teens-and-toddlers"])
    assert (await client.get(f"/v1/claims/{claim_id}", headers=payer_elsewhere)).status_code == 403


async def test_automatic_mode_verifies_on_complete_evidence(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    provider = auth("provider", provider_id="mission-access-point")
    event = {
        "event_id": "w1",
        "participant_ref": "c-1",
        "type": "client_served",
        "occurred_on": "2025-08-01",
        "attributes": {"barrier": "none"},
    }
    [claim_id] = await post_events(client, provider, "workforce-access-points", [event])
    history = (await client.get(f"/v1/claims/{claim_id}/history", headers=auth("admin"))).json()
    assert [h["status"] for h in history[1:]] == ["submitted", "verified"]
    assert history[-1]["actor"] == "system:automatic"


async def test_sampled_mode_is_reproducible_from_its_seed_and_reported(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    provider = auth("provider", provider_id="clinic-network-north")
    delivery = {"service_code": "delivery", "province": "kabul"}
    events = [
        {
            "event_id": f"s{i}",
            "participant_ref": f"w{i}",
            "type": "service_delivered",
            "occurred_on": "2025-04-10",
            "attributes": delivery,
        }
        for i in range(40)
    ]
    claim_ids = await post_events(client, provider, "basic-health-p4p", events)
    claims = [
        (await client.get(f"/v1/claims/{c}", headers=auth("admin"))).json() for c in claim_ids
    ]
    for claim in claims:
        expected = is_sampled(
            "basic-health-p4p", "2025-04", "clinic-network-north", claim["claim_id"], Decimal(10)
        )
        assert claim["sampled"] is expected
        assert claim["status"] == ("submitted" if expected else "verified")
    sampled = [c["claim_id"] for c in claims if c["sampled"]]
    assert sampled, "with 40 claims at 10 % at least one is sampled for this seed"
    await client.post(
        f"/v1/claims/{sampled[0]}/reject",
        json={"reason_code": "ineligible", "reason": "no record"},
        headers=auth("verifier"),
    )
    await indexed(client, auth, "contract_id=basic-health-p4p&status=rejected", 1)
    report = (
        await client.get(
            "/v1/contracts/basic-health-p4p/sampling?period=2025-04", headers=auth("verifier")
        )
    ).json()
    [line] = report["providers"]
    assert (
        line["submitted"],
        line["sampled"],
        line["sampled_decided"],
        line["sampled_rejected"],
    ) == (40, len(sampled), 1, 1)
    assert line["rejection_rate"] == "1.0000"
    assert (
        line["extrapolated_rejected_amount_minor"] == line["population_amount_minor"] == 40 * 90_000
    )


async def test_bulk_decisions_are_all_or_nothing_and_idempotent(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    claims = await ips_claims(client, auth)
    headers = {**auth("verifier"), "Idempotency-Key": "batch-0001"}
    body = {
        "decisions": [
            {"claim_id": claims[0], "action": "verify"},
            {"claim_id": claims[1], "action": "reject", "reason_code": "duplicate", "note": "x"},
        ]
    }
    bad = {
        "decisions": [
            *body["decisions"],
            {"claim_id": "00000000-0000-0000-0000-000000000000", "action": "verify"},
        ]
    }
    refused = await client.post(
        "/v1/claims/decisions", json=bad, headers={**headers, "Idempotency-Key": "batch-0000"}
    )
    assert refused.status_code == 409 and [r["index"] for r in refused.json()["refused"]] == [2]
    assert (await client.get(f"/v1/claims/{claims[0]}", headers=auth("admin"))).json()[
        "status"
    ] == "submitted"
    first = await client.post("/v1/claims/decisions", json=body, headers=headers)
    assert first.json()["results"] == [
        {"claim_id": claims[0], "status": "verified"},
        {"claim_id": claims[1], "status": "rejected"},
    ]
    again = await client.post("/v1/claims/decisions", json=body, headers=headers)
    assert (again.status_code, again.json()) == (200, first.json())
    changed = {"decisions": body["decisions"][:1]}
    assert (
        await client.post("/v1/claims/decisions", json=changed, headers=headers)
    ).status_code == 409
    assert (
        await client.post("/v1/claims/decisions", json=body, headers=auth("verifier"))
    ).status_code == 422
    too_many = {"decisions": [{"claim_id": claims[2], "action": "verify"}] * 1001}
    assert (
        await client.post(
            "/v1/claims/decisions",
            json=too_many,
            headers={**headers, "Idempotency-Key": "batch-0002"},
        )
    ).status_code == 422


async def test_the_payer_pull_filters_and_speaks_csv(client: httpx.AsyncClient, auth: Auth) -> None:
    await ips_claims(client, auth)
    await indexed(client, auth, "contract_id=ips-employment", 3)
    payer = auth("payer", contract_ids=["ips-employment"])
    by_outcome = (await client.get("/v1/claims?outcome_id=job_start", headers=payer)).json()[
        "items"
    ]
    assert [c["outcome_id"] for c in by_outcome] == ["job_start"]
    dated = (
        await client.get(
            "/v1/claims?occurred_from=2026-04-01&occurred_to=2026-06-30", headers=payer
        )
    ).json()["items"]
    assert [c["outcome_id"] for c in dated] == ["job_start"]
    recorded = (
        await client.get("/v1/claims?recorded_from=2099-01-01T00:00:00Z", headers=payer)
    ).json()["items"]
    assert recorded == []
    response = await client.get(
        "/v1/claims?contract_id=ips-employment&limit=2", headers={**payer, "Accept": "text/csv"}
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["outcome_id"] for r in rows] == ["engagement", "job_start"]
    assert (
        rows[0]["amount"] == "500.00"
        and response.headers["X-Next-After"] == rows[1]["derived_position"]
    )


async def test_overdue_needs_a_reader_and_lists_nothing_fresh(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    await ips_claims(client, auth)
    await indexed(client, auth, "contract_id=ips-employment", 3)
    assert (await client.get("/v1/claims/overdue", headers=auth("admin"))).json() == []
    assert (await client.get("/v1/claims/overdue")).status_code == 401
