"""Issue 20, point 7: the claims service as two replicas of two worker processes each, on one
PostgreSQL database, under concurrent load: nothing lost, nothing done twice.

Every participant event is posted twice at once, to different replicas (a client retrying on
another replica after a timeout), from eight threads; every claim is then verified twice at once
the same way. The claims feed must hold each event once and each claim once, and the ledger must
accrue each verified claim once. docs/scaling.md says what the test stands for.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth import Role, TokenSigner
from tests.claims.helpers import PROVIDER, story_json
from tests.conftest import IPS_RULEBOOK
from tests.stores import postgres_databases, require_postgres
from tests.system.processes import running_stack, wait_until

pytestmark = pytest.mark.system
CONTRACT = "ips-employment"
PARTICIPANTS = 30
THREADS = 8
BUSY_DEADLINE_S = 30.0  # a 503 (busy, or a replica's pool waiting) is retried until then


def _send(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request as a well-behaved client sends it: a 503 is retried after its Retry-After."""
    deadline = time.monotonic() + BUSY_DEADLINE_S
    while True:
        response = http.request(method, url, timeout=30.0, **kwargs)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(min(1.0, float(response.headers.get("Retry-After", "0.2"))))


def _feed(http: httpx.Client, base: str, headers: dict[str, str], types: list[str]) -> list[Any]:
    items: list[Any] = []
    after = 0
    while page := http.get(
        f"{base}/feed", params={"after": after, "limit": 1000, "types": types}, headers=headers
    ).json()["items"]:
        items += page
        after = page[-1]["position"]
    return items


def _twice_at_once(
    pool: ThreadPoolExecutor,
    http: httpx.Client,
    replicas: list[str],
    headers: dict[str, str],
    calls: list[tuple[str, dict[str, Any]]],
) -> list[tuple[httpx.Response, httpx.Response]]:
    """Each POST (path, body) sent twice at once, to each replica, all of them at once; the
    answers by pair."""
    futures = [
        tuple(
            pool.submit(_send, http, "POST", f"{base}{path}", json=body, headers=headers)
            for base in replicas
        )
        for path, body in calls
    ]
    return [(first.result(), second.result()) for first, second in futures]


def test_two_replicas_of_two_workers_lose_nothing_and_do_nothing_twice(
    tmp_path: Path, signer: TokenSigner
) -> None:
    require_postgres()
    provider = {"Authorization": f"Bearer {signer.issue(Role.PROVIDER, provider_id=PROVIDER)}"}
    verifier = {"Authorization": f"Bearer {signer.issue(Role.VERIFIER)}"}
    admin = {"Authorization": f"Bearer {signer.issue(Role.ADMIN)}"}
    with (
        postgres_databases() as urls,
        running_stack(tmp_path, urls, workers={"claims": 2}) as stack,
        httpx.Client() as http,
        ThreadPoolExecutor(THREADS) as pool,
    ):
        replicas = [stack.urls["claims"], stack.start_replica("claims")]
        loaded = stack.cli("contracts", "load", str(IPS_RULEBOOK), "--url", replicas[0])
        assert loaded.returncode == 0, loaded.stderr

        # every event twice at once, to both replicas; the stories interleave across threads
        events = [
            event
            for step in zip(
                *(story_json(f"case-{n}", f"p{n}") for n in range(PARTICIPANTS)), strict=True
            )
            for event in step
        ]

        path = f"/v1/contracts/{CONTRACT}/events"
        pairs = _twice_at_once(pool, http, replicas, provider, [(path, e) for e in events])
        statuses = Counter(a.status_code for pair in pairs for a in pair)
        refused = [a.text for pair in pairs for a in pair if a.status_code > 201]
        assert set(statuses) <= {200, 201}, refused
        assert statuses[201] == len(events), statuses  # one of each pair recorded it
        recorded = Counter(
            e["data"]["event_id"]
            for e in _feed(http, replicas[1], admin, ["participant.event_recorded"])
        )
        assert recorded == Counter(e["event_id"] for e in events)  # each once, none lost

        derived = _feed(http, replicas[0], admin, ["claim.derived"])
        per_key = Counter((d["data"]["participant_id"], d["data"]["claim_key"]) for d in derived)
        assert set(per_key.values()) == {1}, per_key.most_common(3)  # no claim derived twice
        per_participant = Counter(participant for participant, _ in per_key)
        assert len(per_participant) == PARTICIPANTS
        assert len(set(per_participant.values())) == 1  # each story earned the same claims
        claim_ids = [d["stream_id"] for d in derived]

        verifications = [(f"/v1/claims/{c}/verify", {"note": "seen"}) for c in claim_ids]
        pairs = _twice_at_once(pool, http, replicas, verifier, verifications)
        for first, second in pairs:  # one verifies; the other finds it verified (or refused)
            assert sorted([first.status_code, second.status_code])[0] == 200, first.text
            assert {first.status_code, second.status_code} <= {200, 409}, second.text
        verified = _feed(http, replicas[1], admin, ["claim.verified"])
        assert Counter(v["stream_id"] for v in verified) == Counter(claim_ids)

        def accruals() -> Counter[str]:
            return Counter(
                t["data"]["claim_id"]
                for t in _feed(http, stack.urls["ledger"], admin, ["ledger.transaction_posted"])
                if t["data"]["kind"] == "accrual"
            )

        wait_until(lambda: sum(accruals().values()) >= len(claim_ids), "every accrual", 60.0)
        assert accruals() == Counter(claim_ids)  # each verified claim accrued once
        # and both replicas, each of two workers, came through the load still running
        processes = {name for name in stack.processes if name.startswith("claims")}
        assert processes == {"claims", "claims-replica"}
        assert all(p.poll() is None for p in stack.processes.values())
