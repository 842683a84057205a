"""The lag from a participant event's POST to the ledger's booking and to the metrics' row, on
an idle system (issue 20, point 5: under 100 ms to the ledger), with the feeds' long-polls
woken by the store against the same run's baseline of reading every 50 ms.

    .venv/bin/python -m bench.lag [--events 200] [--gap-ms 100] [--rounds 2]

Each round runs on fresh PostgreSQL databases (dropped afterwards) with the three services as in
production (``outcomes serve``, one uvicorn worker each) and the IPS example contract verifying
claims at once. A watcher long-polls the ledger's feed and reads the metrics' event table, as
``bench/intake.py``'s P3 does. Then ``--events`` requests, one at a time with ``--gap-ms``
between: a new participant's referral, then its enrollment (which earns a claim, verified when
the request returns). A claim's lag is when its ledger transaction is first read less when its
POST was sent; an event's, when its metrics row is first read.

Modes, alternating for ``--rounds`` rounds: B (baseline), ``OUTCOMES_FEED_SIGNAL=false``: every
long-poll reads its store every 50 ms, as before; S: long-polls are woken when the store records
something (in process, and by PostgreSQL's LISTEN/NOTIFY: shared/feed/signal.py).

Reported: p50, p95, p99 and the worst lag of each mode to the ledger and to metrics, and S's
p99 to the ledger as a ratio of B's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import httpx

from bench.common import percentile, temporary_database
from bench.intake import (
    CONTRACT,
    FIRST_DAY,
    JOURNEY,
    PROVIDER,
    SERVICES,
    Services,
    Watcher,
    lags,
    rulebook_yaml,
    wait_caught_up,
)
from shared.auth import Role, TokenSigner
from shared.settings import FEED_SIGNAL_ENV, CommonSettings


@dataclass
class Sent:
    """What :func:`bench.intake.lags` reads: each request's send time and answer."""

    answers: list[tuple[float, float, bytes]] = field(default_factory=list)


def one_round(
    signalled: bool, events: int, gap_s: float, round_number: int
) -> tuple[list[float], list[float]]:
    os.environ[FEED_SIGNAL_ENV] = "true" if signalled else "false"
    signer = TokenSigner.from_settings(CommonSettings(env="development"))
    admin = signer.issue(Role.ADMIN, ttl_s=7200)
    provider = {
        "Authorization": "Bearer "
        + signer.issue(Role.PROVIDER, subject="bench", provider_id=PROVIDER, ttl_s=7200)
    }
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        databases = {
            name: stack.enter_context(temporary_database(f"bench_lag_{name}")) for name in SERVICES
        }
        services = Services(folder, databases)
        stack.callback(services.stop)
        services.start()
        claims = services.url("claims")
        httpx.post(
            f"{claims}/v1/contracts",
            content=rulebook_yaml(),
            headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/yaml"},
            timeout=60,
        ).raise_for_status()
        wait_caught_up(services, admin)
        sent = Sent()
        watcher = stack.enter_context(Watcher(services.url("ledger"), admin, databases["metrics"]))
        time.sleep(1.0)  # the watcher and the followers are waiting on their long-polls
        with httpx.Client(base_url=claims, headers=provider, timeout=30) as client:
            for number in range(events):
                person, step = divmod(number, 2)
                kind, offset, attributes = JOURNEY[step]
                body = {
                    "event_id": f"lag-{round_number}-{number}",
                    "participant_ref": f"lag-{round_number}-{person}",
                    "type": kind,
                    "occurred_on": (FIRST_DAY + dt.timedelta(days=offset)).isoformat(),
                    "attributes": attributes,
                }
                started = time.perf_counter()
                answer = client.post(f"/v1/contracts/{CONTRACT}/events", json=body)
                answer.raise_for_status()
                sent.answers.append((started, time.perf_counter(), answer.content))
                time.sleep(gap_s)
        ledger, metrics, missing = lags(sent, watcher)  # type: ignore[arg-type]
        if missing[0]:
            raise SystemExit(f"{missing[0]:.0f} claims or events never arrived")
        if not ledger:
            raise SystemExit("no claim was booked")
        return ledger, metrics


def line(label: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return (
        f"{label:<22} n={len(ms):4d}  p50 {statistics.median(ms):7.1f}  "
        f"p95 {percentile(ms, 0.95):7.1f}  p99 {percentile(ms, 0.99):7.1f}  "
        f"worst {ms[-1]:7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=100.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    found: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
    for number in range(args.rounds):
        for signalled in (False, True) if number % 2 == 0 else (True, False):
            ledger, metrics = one_round(signalled, args.events, args.gap_ms / 1000, number)
            found[signalled][0].extend(ledger)
            found[signalled][1].extend(metrics)
            mode = "S" if signalled else "B"
            print(f"round {number + 1}, {mode}: ledger p99 "
                  f"{percentile(ledger, 0.99) * 1000:.1f} ms", flush=True)  # fmt: skip
    for signalled, name in ((False, "B (50 ms reads)"), (True, "S (woken)")):
        ledger, metrics = found[signalled]
        print(line(f"{name} -> ledger", ledger))
        print(line(f"{name} -> metrics", metrics))
    p99_s = percentile(found[True][0], 0.99)
    p99_b = percentile(found[False][0], 0.99)
    print(f"S / B, p99 to the ledger: {p99_s / p99_b:.2f}")
    print(f"target: idle lag to the ledger under 100 ms (S p99) -> "
          f"{'met' if p99_s < 0.1 else 'MISSED'} ({p99_s * 1000:.1f} ms)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
