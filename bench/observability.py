"""What request metrics, structured request logs and tracing (exporter off) cost a single-event
POST (issue 21's P1 target: at most 5 %), against the same service with them off, same run.

    .venv/bin/python -m bench.observability [--seconds 15] [--connections 64] [--rounds 6]

The claims service runs as in production (``outcomes serve claims``, one uvicorn worker, on
PostgreSQL), once with ``OUTCOMES_OBSERVABILITY=true`` (the default: the request metrics and
log middlewares, the FastAPI and SQLAlchemy instrumentations, every event's traceparent) and
once with ``false``, each on a fresh database, alternating for ``--rounds`` rounds so that
both see the same machine. Each round is P1 of ``bench/intake.py``: ``--connections``
keep-alive connections each POSTing its next participant event as soon as the last is
answered. Logs are written at info to a file, as in production (one line a request).

Reported: each round's throughput and p99, the median of each mode, on/off, and each round's
own on/off. On this machine a round's throughput varies by about 10 % from one round to the
next in either mode (the disk's commit latency), so fewer than six rounds decide nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench.common import free_port, percentile, temporary_database, wait_healthy
from bench.intake import CONTRACT, PROVIDER, SERVICES_PREFIXES, journey_event, rulebook_yaml
from bench.load import LoadResult, run_load
from shared.auth import Role, TokenSigner
from shared.settings import CommonSettings


def one_round(observability: bool, seconds: float, connections: int, folder: str) -> LoadResult:
    mode = "on" if observability else "off"
    with temporary_database(f"bench_obs_{mode}") as url:
        port = free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(SERVICES_PREFIXES)}  # fmt: skip
        env |= {
            "OUTCOMES_ENV": "development", "OUTCOMES_DATA_DIR": folder,
            "OUTCOMES_OBSERVABILITY": str(observability).lower(),
            "CLAIMS_PORT": str(port), "CLAIMS_DATABASE_URL": url,
        }  # fmt: skip
        with Path(folder, f"claims-{mode}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", "claims", "--migrate"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base)
            signer = TokenSigner.from_settings(CommonSettings(env="development"))
            admin = {"Authorization": f"Bearer {signer.issue(Role.ADMIN)}"}
            httpx.post(
                f"{base}/v1/contracts", content=rulebook_yaml(),
                headers={**admin, "Content-Type": "application/yaml"},
            ).raise_for_status()  # fmt: skip
            token = signer.issue(Role.PROVIDER, provider_id=PROVIDER)
            path = f"/v1/contracts/{CONTRACT}/events"
            result = run_load(
                base,
                lambda n, s: (path, journey_event(f"obs-{mode}", n, s)),
                headers={"Authorization": f"Bearer {token}"},
                connections=connections,
                duration_s=seconds,
            )
        finally:
            process.terminate()
            process.wait(30)
    refused = {status: n for status, n in result.statuses.items() if status != 201}
    if refused:
        raise SystemExit(f"observability {mode}: answers other than 201: {refused}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    figures: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as folder:
        for number in range(args.rounds):
            for observability in (True, False) if number % 2 == 0 else (False, True):
                result = one_round(observability, args.seconds, args.connections, folder)
                p99_ms = percentile(result.latencies_s, 0.99) * 1000
                figures[observability].append((result.throughput, p99_ms))
                mode = "on " if observability else "off"
                print(f"round {number + 1}, observability {mode}: {result.throughput:7.1f} "
                      f"req/s, p99 {p99_ms:6.0f} ms", flush=True)  # fmt: skip
    on = statistics.median(t for t, _ in figures[True])
    off = statistics.median(t for t, _ in figures[False])
    on_p99 = statistics.median(p for _, p in figures[True])
    off_p99 = statistics.median(p for _, p in figures[False])
    ratio = on / off
    rounds = [f"{a / b:.2f}" for (a, _), (b, _) in zip(figures[True], figures[False], strict=True)]
    print(f"median: on {on:.1f} req/s (p99 {on_p99:.0f} ms), off {off:.1f} req/s "
          f"(p99 {off_p99:.0f} ms); on/off {ratio:.3f} (rounds: {', '.join(rounds)})")  # fmt: skip
    print(f"target: on/off >= 0.95 -> {'met' if ratio >= 0.95 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
