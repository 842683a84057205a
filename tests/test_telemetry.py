"""Issue 21, point 2: ``/metrics`` in the Prometheus format on every service, for a service
or an unscoped admin token only: requests by route template and status (never a raw path),
their latency, each follower's state, position and lag, and intake's group-commit sizes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.claims.api import create_app as claims_app
from services.claims.settings import ClaimsSettings
from services.ledger.api import create_app as ledger_app
from services.ledger.settings import LedgerSettings
from services.metrics.api import create_app as metrics_app
from services.metrics.settings import MetricsSettings
from shared.auth import Role, ServiceTokens, TokenSigner
from shared.feed.envelope import FeedEntry
from shared.feed.follower import Follower, HttpFeedSource
from shared.settings import CommonSettings
from shared.telemetry import Telemetry
from tests.claims.helpers import PROVIDER, story_json
from tests.conftest import IPS_RULEBOOK, over_http, register_ips, serving

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


async def scrape(client: httpx.AsyncClient, token: str) -> Samples:
    answer = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return samples(answer.text)


@pytest.mark.parametrize(
    "make",
    [
        lambda common: claims_app(ClaimsSettings(), common),
        lambda common: ledger_app(LedgerSettings(follow=False), common),
        lambda common: metrics_app(MetricsSettings(follow=False), common),
    ],
    ids=["claims", "ledger", "metrics"],
)
async def test_only_a_service_or_an_unscoped_admin_may_scrape(
    tmp_path: Path, make: Callable[[CommonSettings], object]
) -> None:
    common = CommonSettings(env="test", data_dir=tmp_path)
    signer = TokenSigner.from_settings(common)
    async with serving(make(common)) as client:  # type: ignore[arg-type]
        assert (await client.get("/metrics")).status_code == 401
        for refused in (
            signer.issue(Role.PROVIDER, provider_id=PROVIDER),
            signer.issue(Role.AUDITOR),
            signer.issue(Role.ADMIN, contract_ids=["ips-employment"]),
        ):
            answer = await client.get("/metrics", headers={"Authorization": f"Bearer {refused}"})
            assert answer.status_code == 403, answer.text
        await scrape(client, signer.issue(Role.SERVICE, subject="prometheus"))
        await scrape(client, signer.issue(Role.ADMIN))


async def test_requests_followers_and_group_commits_are_counted(tmp_path: Path) -> None:
    common = CommonSettings(env="test", data_dir=tmp_path)
    signer = TokenSigner.from_settings(common)
    admin = {"Authorization": f"Bearer {signer.issue(Role.ADMIN)}"}
    provider = {"Authorization": f"Bearer {signer.issue(Role.PROVIDER, provider_id=PROVIDER)}"}
    service = signer.issue(Role.SERVICE, subject="prometheus")
    async with serving(claims_app(ClaimsSettings(), common)) as client:
        registered = await client.post(
            "/v1/contracts",
            content=IPS_RULEBOOK.read_text(),
            headers={**admin, "Content-Type": "application/yaml"},
        )
        assert registered.status_code == 201, registered.text
        for event in story_json()[:2]:
            posted = await client.post(
                "/v1/contracts/ips-employment/events", json=event, headers=provider
            )
            assert posted.status_code == 201, posted.text
        missing = uuid.uuid4()
        assert (await client.get(f"/v1/claims/{missing}", headers=admin)).status_code == 404
        assert (await client.get("/no/such/path", headers=admin)).status_code == 404

        found = await scrape(client, service)
        route = "/v1/contracts/{contract_id}/events"
        count = "outcomes_http_requests_total"
        assert value(found, count, method="POST", route=route, status="201") == 2
        assert value(found, count, method="GET", route="/v1/claims/{claim_id}", status="404") == 1
        assert value(found, count, method="GET", route="unmatched", status="404") == 1
        assert not any(str(missing) in str(labels) for _, labels in found)  # no raw ids
        timed = "outcomes_http_request_duration_seconds_count"
        assert value(found, timed, method="POST", route=route) == 2
        groups = value(found, "outcomes_intake_group_requests_count")
        assert groups is not None and 1 <= groups <= 2
        assert value(found, "outcomes_intake_group_requests_sum") == 2  # two requests

        deadline = time.monotonic() + 10  # the index follower applies what was recorded
        while True:
            found = await scrape(client, service)
            active = value(found, "outcomes_follower_active", follower="claims-index")
            position = value(found, "outcomes_follower_position", follower="claims-index")
            if active == 1 and position and position > 0:
                break
            assert time.monotonic() < deadline, (active, position)
            await asyncio.sleep(0.05)
        assert value(found, "outcomes_follower_failing_seconds", follower="claims-index") == 0
        applied = "outcomes_follower_entries_total"
        registered_entries = value(
            found, applied, follower="claims-index", type="contract.registered"
        )
        assert registered_entries == 1


class _Kept:
    """A sink that keeps what it is given."""

    def __init__(self) -> None:
        self.entries: list[FeedEntry] = []

    def position(self) -> int:
        return self.entries[-1].position if self.entries else 0

    def apply(self, entries: list[FeedEntry]) -> None:
        self.entries += entries


def test_a_follower_of_another_service_reports_the_upstream_head(tmp_path: Path) -> None:
    common = CommonSettings(env="test", data_dir=tmp_path)
    signer = TokenSigner.from_settings(common)
    admin = {"Authorization": f"Bearer {signer.issue(Role.ADMIN)}"}
    with over_http(claims_app(ClaimsSettings(), common)) as base:
        register_ips(base, admin)
        source = HttpFeedSource(base, ServiceTokens(signer, "test"), ["contract.registered"])
        follower = Follower("test<-claims", source, _Kept())
        try:
            assert follower.run_once() == 1
        finally:
            source.close()
    telemetry = Telemetry()
    telemetry.watch([follower])
    found = samples(telemetry.exposition().decode())
    head = value(found, "outcomes_follower_upstream_head", follower="test<-claims")
    assert head is not None and head >= 1
    assert value(found, "outcomes_follower_position", follower="test<-claims") == 1


async def test_workers_under_leases_and_ledger_transactions_by_kind_are_reported(
    tmp_path: Path,
) -> None:
    common = CommonSettings(env="test", data_dir=tmp_path)
    signer = TokenSigner.from_settings(common)
    admin = {"Authorization": f"Bearer {signer.issue(Role.ADMIN)}"}
    provider = {"Authorization": f"Bearer {signer.issue(Role.PROVIDER, provider_id=PROVIDER)}"}
    verifier = {"Authorization": f"Bearer {signer.issue(Role.VERIFIER, subject='vera')}"}
    service = signer.issue(Role.SERVICE, subject="prometheus")
    claims_settings = ClaimsSettings(amendment_interval_s=0.1, census_interval_s=0.1)
    with over_http(claims_app(claims_settings, common)) as claims_url:
        register_ips(claims_url, admin)
        claim_ids = []
        for event in story_json():
            posted = httpx.post(
                f"{claims_url}/v1/contracts/ips-employment/events", json=event, headers=provider
            )
            assert posted.status_code == 201, posted.text
            claim_ids += posted.json()["claim_ids"]
        for claim_id in claim_ids:
            verified = httpx.post(
                f"{claims_url}/v1/claims/{claim_id}/verify", json={"note": "seen"}, headers=verifier
            )
            assert verified.status_code == 200, verified.text
        scraped = httpx.get(f"{claims_url}/metrics", headers={"Authorization": f"Bearer {service}"})
        deadline = time.monotonic() + 10  # the amendment worker takes its lease in its first round
        while value(samples(scraped.text), "outcomes_worker_active", worker="amendments") != 1:
            assert time.monotonic() < deadline, scraped.text
            await asyncio.sleep(0.05)
            scraped = httpx.get(
                f"{claims_url}/metrics", headers={"Authorization": f"Bearer {service}"}
            )
        failed = "outcomes_worker_failed_rounds_total"
        assert value(samples(scraped.text), failed, worker="amendments") == 0
        deadline = time.monotonic() + 10  # the index applies the verifications, a census counts
        while value(samples(scraped.text), "outcomes_claims", status="verified") != 3:
            assert time.monotonic() < deadline, scraped.text
            await asyncio.sleep(0.05)
            scraped = httpx.get(
                f"{claims_url}/metrics", headers={"Authorization": f"Bearer {service}"}
            )
        assert value(samples(scraped.text), "outcomes_claims", status="submitted") is None

        ledger = ledger_app(LedgerSettings(claims_url=claims_url), common)
        async with serving(ledger) as client:
            deadline = time.monotonic() + 15  # the ledger books the three, its index counts them
            booked = "outcomes_ledger_transactions_total"
            while True:  # and the webhook dispatcher takes its lease in its first round
                found = await scrape(client, service)
                accruals = value(found, booked, kind="accrual")
                dispatching = value(found, "outcomes_worker_active", worker="webhooks")
                if accruals == len(claim_ids) == 3 and dispatching == 1:
                    break
                assert time.monotonic() < deadline, (accruals, dispatching)
                await asyncio.sleep(0.05)
            assert value(found, booked, kind="payment") is None  # nothing paid yet


def test_a_census_reports_nothing_while_it_cannot_count() -> None:
    """Not a figure from before the store went away: an absent series, which alerts see."""
    answers: list[dict[str, int] | Exception] = [{"verified": 3}, OSError("store away")]

    def count() -> dict[str, int]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    census = Telemetry().census("outcomes_test_claims", "test", "status", count, every_s=60)
    assert list(census.collect()) == []  # not counted yet
    census.refresh()
    [family] = census.collect()
    assert [(s.labels, s.value) for s in family.samples] == [({"status": "verified"}, 3)]
    census.refresh()
    assert list(census.collect()) == []
