"""The ledger API through ASGI, fed from a claims application's feed."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from uuid import UUID

import httpx
import pytest
from fhir.resources.paymentreconciliation import PaymentReconciliation

from services.claims.application import ClaimsApplication
from services.ledger.api import create_app
from services.ledger.application import ClaimsFeedSink
from services.ledger.settings import LedgerSettings
from shared.feed.catalogue import ClaimSubmitted, TransactionPosted
from shared.feed.follower import Follower, LocalFeedSource
from shared.settings import CommonSettings
from tests.claims.helpers import OTHER_PROVIDER, PROVIDER, story_events
from tests.conftest import serving

Auth = Callable[..., dict[str, str]]
CONTRACT = "ips-employment"


@pytest.fixture
async def ledger(urls: dict[str, str], common: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(LedgerSettings(database_url=urls["ledger"], follow=False), common)
    async with serving(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


def book_claims(claims: ClaimsApplication, ledger: httpx.AsyncClient, verify: int = 3) -> list[str]:
    ids: list[str] = []
    for provider, ref in ((PROVIDER, "a"), (OTHER_PROVIDER, "b")):
        results = claims.intake.record_events(
            CONTRACT, provider, story_events(ref, ref), "provider:x"
        )
        ids += [c for r in results for c in r.claim_ids]
    for claim_id in ids[:verify] + ids[3 : 3 + verify]:
        claims.verification.verify(UUID(claim_id), "verifier:v", "")
    application = ledger.app.state.application  # type: ignore[attr-defined]
    Follower("t", LocalFeedSource(claims.read_feed), ClaimsFeedSink(application)).catch_up()
    return ids


async def test_balances_by_role(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth
) -> None:
    book_claims(claims, ledger)
    url = f"/v1/contracts/{CONTRACT}/balances"
    full = (await ledger.get(url, headers=auth("auditor"))).json()
    assert full["outcome_payments_minor"] == 900_000 and full["paid_minor"] == 0
    assert [p["payable"] for p in full["providers"]] == ["4500.00", "4500.00"]
    own = (await ledger.get(url, headers=auth("provider", provider_id=PROVIDER))).json()
    assert own["outcome_payments_minor"] is None and [
        p["provider_id"] for p in own["providers"]
    ] == [PROVIDER]
    assert (await ledger.get(url, headers=auth("payer", contract_ids=["other"]))).status_code == 403
    assert (await ledger.get(url)).status_code == 401
    assert (
        await ledger.get("/v1/contracts/nope/balances", headers=auth("admin"))
    ).status_code == 404


async def test_payables_page_with_a_stable_cursor_and_as_csv(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth
) -> None:
    ids = book_claims(claims, ledger)
    payer = auth("payer", contract_ids=[CONTRACT])
    seen, after = [], 0
    while True:
        page = (
            await ledger.get(
                f"/v1/payables?contract_id={CONTRACT}&limit=4&after={after}", headers=payer
            )
        ).json()
        seen += [line["payable_id"] for line in page["items"]]
        assert page["next_after"] >= after  # every page resumes, the last one too
        if len(page["items"]) < 4:
            break
        after = page["next_after"]
    assert sorted(seen) == sorted(ids) and len(seen) == 6
    response = await ledger.get(
        f"/v1/payables?contract_id={CONTRACT}&provider_id={PROVIDER}",
        headers={**payer, "Accept": "text/csv"},
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["outstanding_minor"]) for r in rows] == [50_000, 150_000, 250_000]
    assert (await ledger.get("/v1/payables", headers=payer)).status_code == 422


async def test_remittances_over_http(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth
) -> None:
    ids = book_claims(claims, ledger)
    payer = {**auth("payer", contract_ids=[CONTRACT]), "Idempotency-Key": "remit-000001"}
    body = {
        "contract_id": CONTRACT,
        "currency": "GBP",
        "lines": [{"payable_id": ids[0], "amount_minor": 60_000}],
    }
    first = await ledger.post("/v1/remittances", json=body, headers=payer)
    assert first.status_code == 200
    assert first.json()["results"] == [
        {"payable_id": ids[0], "applied_minor": 50_000, "overpaid_minor": 10_000}
    ]
    assert (await ledger.post("/v1/remittances", json=body, headers=payer)).json() == first.json()
    changed = {**body, "lines": [{"payable_id": ids[0], "amount_minor": 1}]}
    assert (await ledger.post("/v1/remittances", json=changed, headers=payer)).status_code == 409
    fresh = {**payer, "Idempotency-Key": "remit-000002"}
    for bad, status in (
        ({**body, "currency": "USD"}, 422),
        ({**body, "lines": [{"payable_id": ids[1], "amount_minor": 0}]}, 422),
        ({**body, "lines": [{"payable_id": ids[1], "amount_minor": -5}]}, 422),
        ({**body, "lines": [{"payable_id": "unknown", "amount_minor": 5}]}, 422),
        ({**body, "lines": [{"payable_id": ids[1], "amount_minor": 1.5}]}, 422),
        ({**body, "lines": [{"payable_id": ids[1], "amount_minor": 1.0}]}, 422),  # strictly int
        ({**body, "lines": [{"payable_id": ids[1], "amount_minor": "100"}]}, 422),
        ({**body, "lines": [{"payable_id": ids[1], "amount_minor": True}]}, 422),
        ({**body, "contract_id": "other-contract"}, 403),
    ):
        response = await ledger.post("/v1/remittances", json=bad, headers=fresh)
        assert response.status_code == status, (bad, response.text)
    assert (
        await ledger.post(
            "/v1/remittances",
            json=body,
            headers=auth("provider", provider_id=PROVIDER) | {"Idempotency-Key": "remit-000003"},
        )
    ).status_code == 403
    assert (
        await ledger.post(
            "/v1/remittances", json=body, headers=auth("payer", contract_ids=[CONTRACT])
        )
    ).status_code == 422
    balances = (
        await ledger.get(f"/v1/contracts/{CONTRACT}/balances", headers=auth("admin"))
    ).json()
    assert balances["paid_minor"] == 60_000
    recon = (
        await ledger.get(f"/v1/contracts/{CONTRACT}/reconciliation", headers=auth("auditor"))
    ).json()
    mine = next(p for p in recon["providers"] if p["provider_id"] == PROVIDER)
    assert (
        mine["owed_minor"],
        mine["paid_minor"],
        mine["difference_minor"],
        mine["recoverable_minor"],
    ) == (450_000, 60_000, 390_000, 10_000)


async def test_statements_claim_view_and_period_close(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth
) -> None:
    ids = book_claims(claims, ledger)
    period = ledger.app.state.application._clock().strftime("%Y-%m")  # type: ignore[attr-defined]
    statement = (
        await ledger.get(
            f"/v1/contracts/{CONTRACT}/statements?period={period}", headers=auth("auditor")
        )
    ).json()
    mine = next(p for p in statement["providers"] if p["provider_id"] == PROVIDER)
    assert (mine["opening_minor"], mine["accrued_minor"], mine["closing_minor"]) == (
        0,
        450_000,
        450_000,
    )
    view = (
        await ledger.get(
            f"/v1/contracts/{CONTRACT}/claims/{ids[2]}",
            headers=auth("provider", provider_id=PROVIDER),
        )
    ).json()
    assert (view["accrued_minor"], view["capped"], view["outstanding_minor"]) == (
        250_000,
        "none",
        250_000,
    )
    assert (
        await ledger.get(
            f"/v1/contracts/{CONTRACT}/claims/{ids[3]}",
            headers=auth("provider", provider_id=PROVIDER),
        )
    ).status_code == 403
    close = f"/v1/contracts/{CONTRACT}/periods/2026-01/close"
    assert (
        await ledger.post(close, headers=auth("payer", contract_ids=[CONTRACT]))
    ).status_code == 403
    assert (await ledger.post(close, headers=auth("admin"))).json()["closed_periods"] == ["2026-01"]
    assert (await ledger.post(close, headers=auth("admin"))).status_code == 409
    assert (
        await ledger.post(f"/v1/contracts/{CONTRACT}/periods/2026-13/close", headers=auth("admin"))
    ).status_code == 422
    ancient = await ledger.post(
        f"/v1/contracts/{CONTRACT}/periods/0001-01/close", headers=auth("admin")
    )
    assert ancient.status_code == 422
    assert [e["field"] for e in ancient.json()["errors"]] == ["period"]
    # the contract took effect on 2025-01-01 (examples/contracts/ips-employment.yaml): a month
    # before it is outside the contract, its first month is not
    before = await ledger.post(
        f"/v1/contracts/{CONTRACT}/periods/2024-12/close", headers=auth("admin")
    )
    assert before.status_code == 422, before.text
    assert before.json()["errors"] == [
        {"field": "period", "message": "on or after 2025-01, the contract's first month"}
    ]
    first = await ledger.post(
        f"/v1/contracts/{CONTRACT}/periods/2025-01/close", headers=auth("admin")
    )
    assert first.status_code == 200, first.text


async def test_idempotency_keys_are_each_payers_own(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth
) -> None:
    """Issue 15, defect 6: payer B's key ``inv-0001`` was refused because payer A had used it
    (every CLI payer token was named ``payer``)."""
    ids = book_claims(claims, ledger)
    body = {
        "contract_id": CONTRACT,
        "currency": "GBP",
        "lines": [{"payable_id": ids[0], "amount_minor": 100}],
    }
    for subject in ("county-ap", "state-treasury"):
        headers = auth("payer", contract_ids=[CONTRACT], subject=subject)
        response = await ledger.post(
            "/v1/remittances", json=body, headers=headers | {"Idempotency-Key": "inv-0001"}
        )
        assert response.status_code == 200, (subject, response.text)
    balances = await ledger.get(f"/v1/contracts/{CONTRACT}/balances", headers=auth("admin"))
    assert balances.json()["paid_minor"] == 200


def test_the_cli_names_who_holds_a_payer_token(capsys: pytest.CaptureFixture[str]) -> None:
    from services.cli import main

    assert main(["token", "--role", "payer", "--contract", CONTRACT]) == 2
    assert "needs --subject" in capsys.readouterr().err
    assert main(["token", "--role", "payer", "--contract", CONTRACT, "--subject", "ap"]) == 0
    assert capsys.readouterr().out.count(".") == 2  # a signed JWT


async def test_a_payer_tails_payables_from_the_last_pages_cursor(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth
) -> None:
    """The last page gives a cursor; later accruals, and only they, come after it, and a
    long-poll answers as soon as one is booked."""
    book_claims(claims, ledger)
    payer = auth("payer", contract_ids=[CONTRACT])
    url = f"/v1/payables?contract_id={CONTRACT}"
    last = (await ledger.get(url, headers=payer)).json()
    assert len(last["items"]) == 6 and isinstance(last["next_after"], int)
    cursor = last["next_after"]
    again = (await ledger.get(f"{url}&after={cursor}", headers=payer)).json()
    assert again["items"] == [] and again["next_after"] == cursor
    waiting = asyncio.create_task(ledger.get(f"{url}&after={cursor}&wait_s=20", headers=payer))
    started = time.monotonic()

    def book_more() -> list[str]:
        results = claims.intake.record_events(
            CONTRACT, PROVIDER, story_events("c", "c"), "provider:x"
        )
        ids = [c for r in results for c in r.claim_ids]
        claims.verification.verify(UUID(ids[0]), "verifier:v", "")
        application = ledger.app.state.application  # type: ignore[attr-defined]
        Follower("t", LocalFeedSource(claims.read_feed), ClaimsFeedSink(application)).catch_up()
        return ids

    new_ids = await asyncio.to_thread(book_more)
    answer = await asyncio.wait_for(waiting, timeout=20)
    assert answer.status_code == 200, answer.text
    assert [line["payable_id"] for line in answer.json()["items"]] == new_ids[:1]
    assert time.monotonic() - started < 15
    assert answer.json()["next_after"] > cursor
    bad = await ledger.get(f"{url}&wait_s=30", headers=payer)
    assert bad.status_code == 422


async def test_a_remittance_answers_as_a_fhir_payment_reconciliation(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth
) -> None:
    """Applied amounts as payments, the excess as an adjustment owed back, each aimed at its
    claim; valid for the fhir.resources model, amounts digit for digit."""
    ids = book_claims(claims, ledger)
    payer = {
        **auth("payer", contract_ids=[CONTRACT]),
        "Idempotency-Key": "remit-fhir-01",
        "Accept": "application/fhir+json",
    }
    body = {
        "contract_id": CONTRACT,
        "currency": "GBP",
        "lines": [
            {"payable_id": ids[0], "amount_minor": 60_000},
            {"payable_id": ids[1], "amount_minor": 150_000},
        ],
    }
    answer = await ledger.post("/v1/remittances", json=body, headers=payer)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/fhir+json"
    PaymentReconciliation.model_validate_json(answer.text)
    resource = json.loads(answer.text, parse_float=Decimal)
    assert resource["amount"] == {"value": Decimal("2100.00"), "currency": "GBP"}
    assert '"value":2100.00,' in answer.text
    assert [
        (a["target"]["reference"], a["type"]["coding"][0]["code"], str(a["amount"]["value"]))
        for a in resource["allocation"]
    ] == [
        (f"Claim/{ids[0]}", "payment", "500.00"),
        (f"Claim/{ids[0]}", "adjustment", "100.00"),
        (f"Claim/{ids[1]}", "payment", "1500.00"),
    ]
    assert resource["identifier"][0]["value"] == "remit-fhir-01"


async def test_a_months_corrections_are_listed_from_the_transaction_index(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth
) -> None:
    """A claim verified after its month closed is booked in the first open month and listed
    among that month's corrections (issue 20: the index keeps them, not the book)."""
    ids = book_claims(claims, ledger, verify=2)
    [submitted] = [
        ClaimSubmitted.of(entry)
        for entry in claims.read_feed(0, 1000, {ClaimSubmitted.TYPE})
        if entry.stream_id == ids[2]
    ]
    month = submitted.booking.occurred_on[:7]
    closed = await ledger.post(
        f"/v1/contracts/{CONTRACT}/periods/{month}/close", headers=auth("admin")
    )
    assert closed.status_code == 200, closed.text
    before_it = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    claims.verification.verify(UUID(ids[2]), "verifier:v", "")
    application = ledger.app.state.application  # type: ignore[attr-defined]
    Follower("t", LocalFeedSource(claims.read_feed), ClaimsFeedSink(application)).catch_up()
    [posted] = [
        TransactionPosted.of(entry)
        for entry in application.read_feed(0, 1000, {TransactionPosted.TYPE})
        if entry.data["claim_id"] == ids[2]
    ]
    assert posted.corrects_period == month and posted.booked_period > month
    url = f"/v1/contracts/{CONTRACT}/statements?period={posted.booked_period}"
    statement = (await ledger.get(url, headers=auth("auditor"))).json()
    assert statement["corrections"] == [
        {"transaction_id": posted.transaction_id, "kind": "accrual", "claim_id": ids[2],
         "corrects_period": month}
    ]  # fmt: skip
    own = await ledger.get(url, headers=auth("provider", provider_id=PROVIDER))
    assert own.json()["corrections"] == []
    before = await ledger.get(f"{url}&as_of={before_it}", headers=auth("auditor"))
    assert before.status_code == 200, before.text
    assert before.json()["corrections"] == []
    after_it = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    since = await ledger.get(f"{url}&as_of={after_it}", headers=auth("auditor"))
    assert since.json()["corrections"] == statement["corrections"]
