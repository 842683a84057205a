"""The INDIGO export: a contract's outcome metrics, pricing, results and payments, built from
claims verified, booked and paid through the real services' feeds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID

import httpx
import pytest

from services.claims.application import ClaimsApplication
from services.ledger.application import ClaimsFeedSink, LedgerApplication
from services.ledger.booking import RemittanceLine
from services.metrics.api import create_app as metrics_app
from services.metrics.readmodels.performance import PerformanceProjector
from services.metrics.settings import MetricsSettings
from shared.feed.follower import Follower, LocalFeedSource
from shared.settings import CommonSettings
from shared.sqlviews import SqlSink
from tests.claims.helpers import OTHER_PROVIDER, PROVIDER, story_events
from tests.conftest import serving

Auth = Callable[..., dict[str, str]]
CONTRACT = "ips-employment"
URL = f"/v1/contracts/{CONTRACT}/indigo"


@pytest.fixture
async def metrics(
    claims: ClaimsApplication, urls: dict[str, str], common: CommonSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """Two participants' stories, every claim verified and booked, a's engagement and job
    start paid; metrics has followed both feeds."""
    ids: dict[str, list[str]] = {}
    for provider, ref in ((PROVIDER, "a"), (OTHER_PROVIDER, "b")):
        results = claims.intake.record_events(CONTRACT, provider, story_events(ref, ref), "p:x")
        ids[ref] = [c for r in results for c in r.claim_ids]
        for claim_id in ids[ref]:
            claims.verification.verify(UUID(claim_id), "verifier:v", "")
    ledger = LedgerApplication(urls["ledger"], clock=lambda: _now())
    try:
        Follower("l", LocalFeedSource(claims.read_feed), ClaimsFeedSink(ledger)).catch_up()
        paid = [RemittanceLine(ids["a"][0], 50_000), RemittanceLine(ids["a"][1], 150_000)]
        ledger.post_remittance("payer:t", "remit-0001", CONTRACT, "GBP", paid)
        app = metrics_app(MetricsSettings(database_url=urls["metrics"], follow=False), common)
        async with serving(app) as client:
            projector = PerformanceProjector()
            engine = app.state.engine
            Follower(
                "c", LocalFeedSource(claims.read_feed), SqlSink(engine, "claims", projector)
            ).catch_up()
            money = SqlSink(engine, "ledger", projector.apply_ledger)
            Follower("m", LocalFeedSource(ledger.read_feed), money).catch_up()
            yield client
    finally:
        ledger.close()


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


async def test_outcomes_pricing_results_and_payments(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    response = await metrics.get(f"{URL}?period=month", headers=auth("auditor"))
    assert response.status_code == 200, response.text
    document = response.json()
    ids = ["engagement", "job_start", "sustainment_13_weeks"]
    assert [m["id"] for m in document["outcome_metrics"]] == ids
    assert document["outcome_metrics"][1]["definition"]["value"].startswith(
        "Job start: achieved by a participant's job_start event"
    )
    pricing = {p["outcome_metric_id"]["value"]: p for p in document["outcome_pricings"]}
    # money is a JSON number with the ledger's digits, never a float's
    assert '"price_per_unit":{"amount":{"value":500.00}}' in response.text
    assert "price_per_unit" not in pricing["sustainment_13_weeks"]  # tiered: described instead
    assert (
        "tier full_time: 2500.00" in pricing["sustainment_13_weeks"]["price_description"]["value"]
    )

    month = _now().strftime("%Y-%m")  # booked (and paid) this month
    project = [r for r in document["results"] if r["result_level"]["value"] == "Project level"]
    engaged = {
        r["period"]["start_date"]["value"][:7]: r["number_engaged_in_impact_bond"]["value"]
        for r in project
    }
    assert engaged["2026-03"] == 2 and sum(engaged.values()) == 2  # both referred in March
    achieved = {
        (r["outcome_metric_id"]["value"], r["period"]["start_date"]["value"][:7]): r[
            "number_with_positive_social_outcomes"
        ]["value"]
        for r in document["results"]
        if r["result_level"]["value"] == "Outcome level"
    }
    assert {k: v for k, v in achieved.items() if v} == {(o, month): 2 for o in ids}
    payments = [
        (p["outcome_metric_id"]["value"], p["recipient_organisation_id"]["value"],
         p["money"]["amount"]["value"], p["period"]["start_date"]["value"][:7])
        for p in json.loads(response.text, parse_float=str)["outcome_payments"]
    ]  # fmt: skip
    assert payments == [
        ("engagement", PROVIDER, "500.00", month),
        ("job_start", PROVIDER, "1500.00", month),
    ]
    assert {p["type"]["value"] for p in document["outcome_payments"]} == {"Actual"}


async def test_quarters_by_default_and_who_may_export(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    document = (await metrics.get(URL, headers=auth("admin"))).json()
    project = [r for r in document["results"] if r["result_level"]["value"] == "Project level"]
    quarters = {
        (r["period"]["start_date"]["value"], r["period"]["end_date"]["value"]): r[
            "number_engaged_in_impact_bond"
        ]["value"]
        for r in project
    }
    assert next(iter(quarters)) == ("2025-01-01", "2025-03-31")  # from the contract's start
    assert quarters[("2026-01-01", "2026-03-31")] == 2 and sum(quarters.values()) == 2
    payer = auth("payer", contract_ids=[CONTRACT])
    assert (await metrics.get(URL, headers=payer)).status_code == 200
    for headers, status in (
        (auth("provider", provider_id=PROVIDER), 403),  # it spans every provider
        (auth("payer", contract_ids=["another"]), 403),
        ({}, 401),
    ):
        assert (await metrics.get(URL, headers=headers)).status_code == status
    unknown = await metrics.get("/v1/contracts/nope/indigo", headers=auth("admin"))
    assert unknown.status_code == 404
    bad = await metrics.get(f"{URL}?period=week", headers=auth("admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].endswith("period")
