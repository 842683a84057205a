"""Two replicas of the ledger and of metrics on one PostgreSQL database: one active follower
per (service, upstream), no effect applied twice, and the standby takes over when the active
replica is killed."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from shared.auth import TokenSigner
from tests.stores import postgres_databases
from tests.system.processes import Stack, running_stack, wait_until
from tests.system.test_story import CONTRACT, Client

pytestmark = pytest.mark.system
FOLLOWERS = {
    "claims": {"claims-index", "claims-amendments"},  # and the amendments applier's lease
    "ledger": {"ledger<-claims", "ledger-index", "ledger-webhooks"},
    "metrics": {"metrics<-claims", "metrics<-ledger", "metrics<-claims-decisions"},
}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Stack, dict[str, str]]]:
    with postgres_databases() as urls, running_stack(tmp_path, urls) as stack:
        replicas = {name: stack.start_replica(name) for name in FOLLOWERS}
        yield stack, replicas


def lease_holders(database_url: str) -> list[tuple[str, int]]:
    """(follower, pid) of every granted follower lease in a database."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT a.application_name FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
    found = []
    for (name,) in rows:
        follower, _, pid = name.removeprefix("outcomes lease ").rpartition(" pid ")
        found.append((follower, int(pid)))
    return sorted(found)


def accruals(http: httpx.Client, ledger: str, admin: dict[str, str]) -> Counter[str]:
    items: list[dict[str, Any]] = http.get(
        f"{ledger}/feed", params={"after": 0, "limit": 1000}, headers=admin
    ).json()["items"]
    return Counter(
        e["data"]["claim_id"]
        for e in items
        if e["type"] == "ledger.transaction_posted" and e["data"]["kind"] == "accrual"
    )


def test_one_follower_active_per_upstream_and_no_duplicate_effects(
    stack: tuple[Stack, dict[str, str]], signer: TokenSigner
) -> None:
    stack_, replicas = stack
    client = Client(stack_, signer)
    admin = client.admin
    client.load_contract()
    verified = [c for i in range(4) for c in client.post_story(f"case-{i}", f"ev{i}")]
    for claim_id in verified:
        client.verify(claim_id)
    ledgers = [stack_.urls["ledger"], replicas["ledger"]]

    def booked(ledger: str) -> bool:
        return sum(accruals(client.http, ledger, admin).values()) >= len(verified)

    wait_until(lambda: booked(ledgers[0]), "the ledger to book every claim", 15.0)
    for name, followers in FOLLOWERS.items():
        holders = lease_holders(stack_.store_urls[name])
        assert {f for f, _ in holders} == followers, (name, holders)
        assert len(holders) == len(followers), (name, holders)  # one holder per follower
    # both replicas answer from the same books: every claim accrued exactly once
    for ledger in ledgers:
        assert accruals(client.http, ledger, admin) == Counter(verified)

    def funnel_ok(metrics: str) -> bool:
        report = client.http.get(f"{metrics}/v1/contracts/{CONTRACT}/funnel", headers=admin).json()
        return report.get("overall", {}).get("referral", {}).get("participants") == 4

    wait_until(lambda: funnel_ok(stack_.urls["metrics"]), "metrics to count 4 referrals", 15.0)
    assert funnel_ok(replicas["metrics"])

    # kill the process holding the ledger's claims lease: the other replica takes over
    [holder_pid] = [
        pid for f, pid in lease_holders(stack_.store_urls["ledger"]) if f == "ledger<-claims"
    ]
    key = next(k for k, p in stack_.processes.items() if p.pid == holder_pid)
    assert key in ("ledger", "ledger-replica")
    os.kill(holder_pid, signal.SIGKILL)
    stack_.processes.pop(key).wait(10)
    survivor = replicas["ledger"] if key == "ledger" else stack_.urls["ledger"]
    more = client.post_story("case-9", "ev9")
    for claim_id in more:
        client.verify(claim_id)
    wait_until(
        lambda: sum(accruals(client.http, survivor, admin).values()) >= len(verified + more),
        "the standby ledger replica to take over and book the new claims",
        15.0,
    )
    assert accruals(client.http, survivor, admin) == Counter(verified + more)
    survivors = {p.pid for p in stack_.processes.values()}

    def taken_over() -> bool:  # each standby follower retries its lease on its own cadence
        held = lease_holders(stack_.store_urls["ledger"])
        return {f for f, _ in held} == FOLLOWERS["ledger"]

    wait_until(taken_over, "the survivor to hold every ledger follower's lease", 15.0)
    holders = lease_holders(stack_.store_urls["ledger"])
    assert {f for f, _ in holders} == FOLLOWERS["ledger"]
    assert {pid for _, pid in holders} <= survivors
    client.http.close()
