"""Metrics rebuilt from the feeds, its read models' rows inserted with ``COPY`` against
psycopg's ``executemany``, alternating in one run (PostgreSQL).

    .venv/bin/python -m bench.metricsrebuild [--participants 20000] [--rounds 3]

Loads N participants through the services as ``bench/pipeline.py`` does (batch intake, the
ledger following), then rebuilds the metrics read models from the claims and ledger feeds into
a fresh database per round, each round both ways, alternating which goes first. The baseline
(B) is the same rebuild with every multi-row insert of the metrics read models sent through
``executemany`` (as before ``shared.sqlviews.insert_rows``); C is the rebuild as it is.
Reported: each rebuild's time, the medians and C / B.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bench.common import temporary_database
from bench.intake import (
    PROVIDER,
    SERVICES,
    rebuild_metrics_models,
    wait_caught_up,
)
from bench.pipeline import Intake, serving
from services.metrics.readmodels import money, performance
from shared.auth import Role
from shared.sqlviews import insert_rows


def executemany(connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        connection.execute(sa.insert(table), list(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"C": [], "B": []}
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        databases = {n: stack.enter_context(temporary_database(f"mr_{n}")) for n in SERVICES}
        services, signer = serving(stack, folder, databases)
        admin = signer.issue(Role.ADMIN)
        token = signer.issue(Role.PROVIDER, provider_id=PROVIDER)
        Intake(services.url("claims"), token, args.participants, 2).run()
        wait_caught_up(services, admin, timeout_s=1800.0)
        for number in range(args.rounds):
            for way in ("C", "B") if number % 2 == 0 else ("B", "C"):
                chosen = insert_rows if way == "C" else executemany
                performance.insert_rows = chosen  # type: ignore[attr-defined]
                money.insert_rows = chosen  # type: ignore[attr-defined]
                with temporary_database(f"mr_rebuilt_{way}") as url:
                    count, seconds = rebuild_metrics_models(
                        services.url("claims"), services.url("ledger"), admin, url
                    )
                times[way].append(seconds)
                print(f"round {number + 1} {way}: {count:,} claims entries in {seconds:.1f} s",
                      flush=True)  # fmt: skip
    c, b = statistics.median(times["C"]), statistics.median(times["B"])
    each = ", ".join(f"{x / y:.2f}" for x, y in zip(times["C"], times["B"], strict=True))
    print(f"median: C (COPY) {c:.1f} s, B (executemany) {b:.1f} s; C / B {c / b:.2f} ({each})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
