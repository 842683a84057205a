"""Cross-service stories against real uvicorn processes on loopback ports, on both stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.ledger.application import CLAIMS_TYPES
from services.metrics.following import upstreams
from shared.auth import Role, TokenSigner
from tests.claims.helpers import PROVIDER, story_json
from tests.conftest import IPS_RULEBOOK
from tests.system.processes import Stack, _healthy, free_port, running_stack, wait_until
from tests.test_telemetry import samples

pytestmark = pytest.mark.system
CONTRACT = "ips-employment"
LAG_BUDGET_S = 5.0
IDLE_LAG_LIMIT_S = 1.0


@pytest.fixture
def stack(urls: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path, urls) as stack:
        yield stack


class Client:
    def __init__(self, stack: Stack, signer: TokenSigner) -> None:
        self.stack = stack
        self.http = httpx.Client(timeout=10.0)
        # closed with the client, even when a failed test's traceback keeps it alive until a
        # later test (its socket then warned, and the warning failed that other test)
        weakref.finalize(self, self.http.close)
        self.provider = self._headers(signer.issue(Role.PROVIDER, provider_id=PROVIDER))
        self.verifier = self._headers(signer.issue(Role.VERIFIER))
        self.admin = self._headers(signer.issue(Role.ADMIN))

    @staticmethod
    def _headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def load_contract(self) -> None:
        result = self.stack.cli(
            "contracts", "load", str(IPS_RULEBOOK), "--url", self.stack.urls["claims"]
        )
        assert result.returncode == 0, result.stderr
        assert "registered: ips-employment version 1" in result.stdout

    def post_story(self, ref: str, prefix: str) -> list[str]:
        claim_ids = []
        for event in story_json(ref, prefix):
            response = self.http.post(
                f"{self.stack.urls['claims']}/v1/contracts/{CONTRACT}/events",
                json=event,
                headers=self.provider,
            )
            assert response.status_code == 201, response.text
            claim_ids += response.json()["claim_ids"]
        return claim_ids

    def verify(self, claim_id: str) -> int:
        response = self.http.post(
            f"{self.stack.urls['claims']}/v1/claims/{claim_id}/verify",
            json={"note": "seen"},
            headers=self.verifier,
        )
        assert response.status_code == 200, response.text
        amount: int = response.json()["amount_minor"]
        return amount

    def balances(self) -> dict[str, Any] | None:
        response = self.http.get(
            f"{self.stack.urls['ledger']}/v1/contracts/{CONTRACT}/balances", headers=self.admin
        )
        return response.json() if response.status_code == 200 else None

    def funnel(self) -> dict[str, Any] | None:
        response = self.http.get(
            f"{self.stack.urls['metrics']}/v1/contracts/{CONTRACT}/funnel", headers=self.admin
        )
        return response.json() if response.status_code == 200 else None

    def ledger_transactions(self) -> list[dict[str, Any]]:
        page = self.http.get(
            f"{self.stack.urls['ledger']}/feed",
            params={"after": 0, "limit": 1000},
            headers=self.admin,
        ).json()
        return [e for e in page["items"] if e["type"] == "ledger.transaction_posted"]

    def ledger_caught_up(self) -> bool:
        """Whether the ledger's follower has applied the claims feed's last entry it reads
        (from the ledger's /metrics): only then does "nothing more was booked" mean it."""
        return self.caught_up("ledger", "ledger<-claims", "claims", CLAIMS_TYPES)

    def metrics_caught_up(self) -> bool:
        """Whether each of metrics' followers has applied its upstream's last entry it reads."""
        return all(
            self.caught_up("metrics", upstream.follower_name, upstream.service, upstream.types)
            for upstream in upstreams()
        )

    def caught_up(self, service: str, follower: str, upstream: str, types: Collection[str]) -> bool:
        last, after = 0, 0
        while items := self.http.get(
            f"{self.stack.urls[upstream]}/feed",
            params={"after": after, "limit": 1000, "types": sorted(types)},
            headers=self.admin,
        ).json()["items"]:
            last = after = items[-1]["position"]
        scraped = self.http.get(f"{self.stack.urls[service]}/metrics", headers=self.admin).text
        position = samples(scraped).get(
            ("outcomes_follower_position", frozenset({("follower", follower)}))
        )
        return position == last


@pytest.fixture
def client(stack: Stack, signer: TokenSigner) -> Iterator[Client]:
    client = Client(stack, signer)
    yield client
    client.http.close()


def payable(client: Client) -> int:
    balances = client.balances()
    if balances is None or not balances["providers"]:
        return 0
    return int(balances["providers"][0]["payable_minor"])


def funnel_counts(client: Client) -> list[int]:
    report = client.funnel()
    if report is None:
        return []
    return [report["overall"][stage]["participants"] for stage in report["stages"]]


def test_the_story_reaches_the_ledger_and_metrics(client: Client) -> None:
    client.load_contract()
    claim_ids = client.post_story("case-0042", "ev")
    assert len(claim_ids) == 3
    total = sum(client.verify(claim_id) for claim_id in claim_ids)
    assert total == 50_000 + 150_000 + 250_000
    started = time.monotonic()
    wait_until(
        lambda: payable(client) == total, "the ledger to book the three claims", LAG_BUDGET_S
    )
    remaining = LAG_BUDGET_S - (time.monotonic() - started)
    wait_until(
        lambda: funnel_counts(client) == [1, 1, 1, 1],
        "the funnel to show 1/1/1/1",
        max(remaining, 0.1),
    )
    balances = client.balances()
    assert balances is not None
    assert balances["providers"] == [
        {
            "provider_id": PROVIDER,
            "payable_minor": total,
            "payable": "4500.00",
            "recoverable_minor": 0,
        }
    ]
    assert balances["outcome_payments_minor"] == total


def test_idle_lag_from_a_verification_to_the_ledger_is_under_a_second(client: Client) -> None:
    client.load_contract()
    lags = []
    for index in range(3):
        [claim_id, *_] = client.post_story(f"lag-{index}", f"lag{index}")
        before = payable(client)
        # the ledger caught up, its follower waits in a long poll: what "idle" measures
        wait_until(client.ledger_caught_up, "the ledger at the claims feed's last entry", 10.0)
        amount = client.verify(claim_id)
        target = before + amount
        lags.append(wait_until(lambda t=target: payable(client) == t, "the booking", LAG_BUDGET_S))
    print(f"idle lag verify -> ledger: {[round(lag, 3) for lag in lags]} s")
    assert max(lags) < IDLE_LAG_LIMIT_S


def test_a_killed_ledger_resumes_without_losing_or_repeating_a_booking(
    stack: Stack, client: Client
) -> None:
    client.load_contract()
    claim_ids = [c for index in range(6) for c in client.post_story(f"case-{index}", f"p{index}")]
    first, second, third = claim_ids[:6], claim_ids[6:12], claim_ids[12:]
    booked = sum(client.verify(c) for c in first)
    wait_until(lambda: payable(client) == booked, "the first bookings", LAG_BUDGET_S)
    booked += sum(client.verify(c) for c in second)
    stack.kill("ledger")  # possibly in the middle of a page
    booked += sum(client.verify(c) for c in third)
    stack.start("ledger")
    wait_until(lambda: payable(client) == booked, "the ledger to catch up after a restart", 15.0)
    transactions = client.ledger_transactions()
    assert sorted(t["data"]["claim_id"] for t in transactions) == sorted(claim_ids)
    assert len({t["data"]["transaction_id"] for t in transactions}) == len(claim_ids) == 18
    wait_until(client.ledger_caught_up, "the ledger at the claims feed's last entry", 10.0)
    assert payable(client) == booked  # and nothing more was booked


def test_outcomes_run_starts_all_three_and_stops_them_on_ctrl_c(tmp_path: Path) -> None:
    """`outcomes run` is the embedded-default (SQLite) command, so this runs on SQLite only."""
    ports = {name: free_port() for name in ("CLAIMS", "LEDGER", "METRICS")}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLAIMS_", "LEDGER_", "METRICS_")) and k != "OUTCOMES_MIGRATE_ON_START"
    }
    env.update({f"{name}_PORT": str(port) for name, port in ports.items()})
    env.update(
        OUTCOMES_ENV="test",
        OUTCOMES_DATA_DIR=str(tmp_path),
        LEDGER_CLAIMS_URL=f"http://127.0.0.1:{ports['CLAIMS']}",
        METRICS_CLAIMS_URL=f"http://127.0.0.1:{ports['CLAIMS']}",
        METRICS_LEDGER_URL=f"http://127.0.0.1:{ports['LEDGER']}",
    )
    with (tmp_path / "run.log").open("wb") as log:
        runner = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", "--migrate"],  # as make run
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        for port in ports.values():
            wait_until(lambda port=port: _healthy(f"http://127.0.0.1:{port}"), f"port {port}", 30.0)
        assert sorted(p.name for p in tmp_path.glob("*.sqlite")) == [
            "claims.sqlite",
            "claims.views.sqlite",
            "ledger.sqlite",
            "ledger.views.sqlite",
            "metrics.sqlite",
            "metrics.views.sqlite",
        ]
        runner.send_signal(signal.SIGINT)
        assert runner.wait(30) == 0
        for port in ports.values():
            assert not _healthy(f"http://127.0.0.1:{port}")
        assert "all services stopped" in (tmp_path / "run.log").read_text()
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()


def test_the_cli_points_at_the_lines_of_a_bad_rule_book(stack: Stack, tmp_path: Path) -> None:
    text = IPS_RULEBOOK.read_text().replace("trigger: job_sustained", "trigger: job_kept")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    result = stack.cli("contracts", "load", str(broken), "--url", stack.urls["claims"])
    assert result.returncode == 1
    line = text.splitlines().index("    trigger: job_kept") + 1
    assert f"{broken}:{line}: outcomes.2.trigger: undefined event type 'job_kept'" in result.stderr


def test_a_killed_claims_service_loses_no_batch_and_its_followers_resume(
    stack: Stack, client: Client
) -> None:
    """SIGKILL the claims service while batches are being posted: every batch is recorded
    whole or not at all, re-posting them all records each event exactly once, and the ledger,
    whose upstream was gone meanwhile, books every claim verified after the restart."""
    import threading

    client.load_contract()
    batches = [
        {
            "events": [
                e for ref in range(b * 10, b * 10 + 10) for e in story_json(f"k-{ref}", f"k{ref}")
            ]
        }
        for b in range(12)
    ]  # 12 batches of 40 events
    url = f"{stack.urls['claims']}/v1/contracts/{CONTRACT}/events/batch"
    answered: list[int] = []

    def post_all() -> None:
        with httpx.Client(timeout=30.0) as http:
            for batch in batches:
                try:
                    answered.append(http.post(url, json=batch, headers=client.provider).status_code)
                except httpx.TransportError:
                    return  # the service was killed under it

    poster = threading.Thread(target=post_all)
    poster.start()
    wait_until(lambda: len(answered) >= 2, "two batches to be recorded", 30.0)
    stack.kill("claims")  # most likely in the middle of a batch
    poster.join(30)
    assert set(answered) <= {201}
    stack.start("claims")
    statuses = []
    for batch in batches:
        response = client.http.post(url, json=batch, headers=client.provider)
        assert response.status_code == 201, response.text
        statuses += [item["status"] for item in response.json()["results"]]
    assert statuses.count(200) >= 40 * len(answered)  # what was recorded before stays so
    recorded, after = [], 0
    while page := client.http.get(
        f"{stack.urls['claims']}/feed",
        params={"after": after, "limit": 1000, "types": "participant.event_recorded"},
        headers=client.admin,
    ).json()["items"]:
        recorded += [e["data"]["event_id"] for e in page]
        after = page[-1]["position"]
    assert len(recorded) == len(set(recorded)) == 12 * 40  # each event exactly once
    claim_ids = client.post_story("after-restart", "after")
    booked = sum(client.verify(c) for c in claim_ids)
    wait_until(lambda: payable(client) == booked, "the ledger to follow the restarted claims", 20.0)


def test_a_killed_metrics_service_resumes_without_counting_twice(
    stack: Stack, client: Client
) -> None:
    """SIGKILL metrics while it follows a stream of stories: once restarted it shows each
    participant once (a page applied twice would count some twice)."""
    client.load_contract()
    for index in range(5):
        client.post_story(f"m-{index}", f"m{index}")
    wait_until(lambda: funnel_counts(client) == [5, 5, 5, 5], "the first stories", LAG_BUDGET_S)
    for index in range(5, 15):
        client.post_story(f"m-{index}", f"m{index}")
    stack.kill("metrics")  # possibly in the middle of a page
    for index in range(15, 20):
        client.post_story(f"m-{index}", f"m{index}")
    stack.start("metrics")
    wait_until(
        lambda: funnel_counts(client) == [20, 20, 20, 20], "metrics to catch up exactly", 20.0
    )
