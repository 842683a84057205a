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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.common import (
    cpu_seconds,
    free_port,
    percentile,
    postgres_admin_url,
    temporary_database,
    wait_healthy,
)
from bench.intake import CONTRACT, PROVIDER, SERVICES_PREFIXES, journey_event, rulebook_yaml
from bench.load import LoadResult, run_load
from shared.auth import Role, TokenSigner
from shared.settings import CommonSettings


def p1_round(
    label: str,
    extra_env: dict[str, str],
    seconds: float,
    connections: int,
    folder: str,
    workers: int = 1,
    cpu: dict[str, float] | None = None,
    source: str | None = None,
    batch: int = 0,
) -> LoadResult:
    """P1 of ``bench/intake.py`` against a claims service (``outcomes serve claims --workers
    N``) on a fresh database, its environment given ``extra_env``; every answer must be 201.
    ``cpu``, if given, receives the CPU seconds the service's processes, PostgreSQL's and this
    process (the load generator) spent during the load (``service``, ``postgres``, ``load``),
    and the bytes of write-ahead log PostgreSQL wrote (``wal_bytes``). ``source``: a checkout
    of another version to run the service from (default: this one). ``batch``: each request
    posts that many events to ``…/events/batch`` (P2 of ``bench/intake.py``) instead of one."""
    with temporary_database(f"bench_{label}") as url:
        port = free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(SERVICES_PREFIXES)}  # fmt: skip
        env |= {
            "OUTCOMES_ENV": "development", "OUTCOMES_DATA_DIR": folder,
            "CLAIMS_PORT": str(port), "CLAIMS_DATABASE_URL": url, **extra_env,
        }  # fmt: skip
        with Path(folder, f"claims-{label}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", "claims", "--migrate",
                 "--workers", str(workers)],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=source,
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

            def body(n: int, s: int) -> tuple[str, Any]:
                if not batch:
                    return path, journey_event(label, n, s)
                events = [journey_event(f"{label}b{s}", n, i) for i in range(batch)]
                return f"{path}/batch", {"events": events}

            before = {**cpu_seconds(process.pid), **wal_and_load()}
            result = run_load(
                base,
                body,
                headers={"Authorization": f"Bearer {token}"},
                connections=connections,
                duration_s=seconds,
            )
            if cpu is not None:
                after = {**cpu_seconds(process.pid), **wal_and_load()}
                cpu.update({name: after[name] - before[name] for name in after})
        finally:
            process.terminate()
            process.wait(30)
    refused = {status: n for status, n in result.statuses.items() if status != 201}
    if refused:
        raise SystemExit(f"{label}: answers other than 201: {refused}")
    return result


def wal_and_load() -> dict[str, float]:
    """PostgreSQL's write-ahead log position in bytes, and this process's CPU seconds so far."""
    with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
        row = connection.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    assert row is not None
    return {"wal_bytes": float(row[0]), "load": time.process_time()}


@dataclass(frozen=True)
class Round:
    """One mode's P1 round: throughput, p99, requests answered, and what it cost (``cpu`` of
    :func:`p1_round`)."""

    throughput: float
    p99_ms: float
    requests: int
    cpu: dict[str, float]


def alternate(
    modes: dict[str, dict[str, Any]], seconds: float, connections: int, rounds: int
) -> dict[str, list[Round]]:
    """P1 rounds of two modes, alternating which goes first; each mode's rounds. A mode is a
    label and :func:`p1_round`'s keyword arguments (``extra_env``, ``workers``, ``source``,
    ``batch``)."""
    first, second = modes
    found: dict[str, list[Round]] = {first: [], second: []}
    with tempfile.TemporaryDirectory() as folder:
        for number in range(rounds):
            for label in (first, second) if number % 2 == 0 else (second, first):
                options = dict(modes[label])
                extra_env = options.pop("extra_env", {})
                cpu: dict[str, float] = {}
                result = p1_round(
                    f"r{number}", extra_env, seconds, connections, folder, cpu=cpu, **options
                )
                p99_ms = percentile(result.latencies_s, 0.99) * 1000
                found[label].append(Round(result.throughput, p99_ms, len(result.latencies_s), cpu))
                print(f"round {number + 1}, {label:>12}: {result.throughput:7.1f} req/s, "
                      f"p99 {p99_ms:6.0f} ms", flush=True)  # fmt: skip
    return found


def ratio(figures: dict[str, list[Round]]) -> float:
    """Prints the medians of the two modes and the first's over the second's (and each
    round's); returns that ratio."""
    (first, a), (second, b) = figures.items()
    medians = {k: statistics.median(r.throughput for r in rows) for k, rows in figures.items()}
    p99s = {k: statistics.median(r.p99_ms for r in rows) for k, rows in figures.items()}
    found = medians[first] / medians[second]
    rounds = [f"{x.throughput / y.throughput:.2f}" for x, y in zip(a, b, strict=True)]
    print(f"median: {first} {medians[first]:.1f} req/s (p99 {p99s[first]:.0f} ms), {second} "
          f"{medians[second]:.1f} req/s (p99 {p99s[second]:.0f} ms); {first}/{second} "
          f"{found:.3f} (rounds: {', '.join(rounds)})")  # fmt: skip
    return found


def parsed(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=6)
    return parser.parse_args()


def main() -> int:
    args = parsed(__doc__ or "")
    modes = {"obs_on": {"extra_env": {"OUTCOMES_OBSERVABILITY": "true"}},
             "obs_off": {"extra_env": {"OUTCOMES_OBSERVABILITY": "false"}}}  # fmt: skip
    found = ratio(alternate(modes, args.seconds, args.connections, args.rounds))
    print(f"target: on/off >= 0.95 -> {'met' if found >= 0.95 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
