"""Report latency on a contract with many participants (PostgreSQL, loopback only).

    .venv/bin/python -m bench.reports [--participants 100000] [--requests 40]

1. Creates a fresh PostgreSQL database with the metrics tables, and loads a contract of N
   participants with seeded random journeys over two years: the bitemporal event rows, and the
   report cube computed from them by the same functions the live projector uses
   (``services.metrics.facts``), bulk-copied.
2. Starts the metrics service (uvicorn, followers off) on that database.
3. Times, in the same run: the baseline, a naive funnel (GROUP BY over the raw event rows, what
   a system without read models would run for its simplest report), then each report endpoint
   over HTTP, the whole report set, a filtered set, the dashboard, and one "as known at" report
   (which rebuilds the cube in memory from the event rows). Prints p50/p95, and each p95 as a
   ratio to the baseline's p95.

Bounded: a fixed number of requests, each with a 120 s timeout; the database is dropped after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

from bench.common import (
    free_port,
    peak_rss_mb,
    summary,
    temporary_database,
    timed,
    wait_healthy,
)
from services.metrics.api import MIGRATIONS
from services.metrics.facts import CubeKey, LiveEvent, contributions, participant_facts, plan_for
from shared.auth import Role, TokenSigner
from shared.eventstore import sqlalchemy_url
from shared.rules.model import parse_rulebook
from shared.settings import CommonSettings
from shared.sqlviews import create_engine, migrate

ROOT = Path(__file__).parents[1]
RULEBOOK = ROOT / "tests" / "metrics" / "reports-demo.yaml"
CONTRACT = "reports-demo"
PROVIDERS = ("alpha", "beta", "gamma", "delta", "epsilon")
START = dt.date(2024, 1, 1)
RECORDED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
MONTH = "2025-06"
STAGES = (("enrollment", 0.8, 20), ("job_start", 0.5, 60), ("job_sustained", 0.6, 95))
Person = tuple[str, str, list[LiveEvent]]


def rulebook_document() -> dict[str, Any]:
    document = yaml.safe_load(RULEBOOK.read_text())
    document["providers"] = [{"id": p, "name": p.title()} for p in PROVIDERS]
    document["effective_from"] = START.isoformat()  # the history starts then
    return parse_rulebook(document).canonical()


def people(count: int, seed: int = 7) -> list[Person]:
    """(stream id, provider, events): a referral, then each stage with a falling chance."""
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        day = START + dt.timedelta(days=rng.randrange(700))
        referral = {
            "site": rng.choice(["north", "south"]),
            "long_term_unemployed": rng.random() < 0.35,
        }
        events = [LiveEvent("referral", day, referral)]
        for stage, chance, gap in STAGES:
            if rng.random() > chance:
                break
            day = day + dt.timedelta(days=rng.randrange(1, gap))
            events.append(LiveEvent(stage, day, {}))
        found.append((str(uuid.UUID(int=rng.getrandbits(128))), rng.choice(PROVIDERS), events))
    return found


def copy_rows(
    connection: psycopg.Connection[Any], table: str, columns: str, rows: Iterable[tuple[Any, ...]]
) -> None:
    with connection.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load(url: str, document: dict[str, Any], crowd: list[Person]) -> dict[str, int]:
    """The read models as the projector would leave them after following this history."""
    engine = create_engine(sqlalchemy_url(url))
    migrate(engine, MIGRATIONS, "alembic_version_metrics")
    engine.dispose()
    plan = plan_for(parse_rulebook(document))
    cube: Counter[CubeKey] = Counter()
    shares = []
    for stream_id, provider, events in crowd:
        mine = contributions(plan, participant_facts(plan, provider, events))
        cube.update(mine)
        shares.append((stream_id, CONTRACT, json.dumps(sorted([*k, n] for k, n in mine.items()))))
    event_rows = [
        (position, stream_id, CONTRACT, f"{stream_id}-{e.type}", e.type, e.occurred_on,
         json.dumps(e.attributes), RECORDED + dt.timedelta(seconds=position))
        for position, (stream_id, e) in enumerate(
            ((s, e) for s, _, events in crowd for e in events), start=1
        )
    ]  # fmt: skip
    with psycopg.connect(url) as connection:
        connection.execute(
            "INSERT INTO mx_rulebooks VALUES (%s, 1, %s, %s)",
            (CONTRACT, json.dumps(document), RECORDED - dt.timedelta(days=1)),
        )
        copy_rows(connection, "mx_participants", "stream_id, contract_id, provider_id, recorded_at",
                  ((s, CONTRACT, p, RECORDED) for s, p, _ in crowd))  # fmt: skip
        copy_rows(connection, "mx_events", "position, stream_id, contract_id, event_id, type, "
                  "occurred_on, attributes, recorded_at", event_rows)  # fmt: skip
        copy_rows(
            connection, "mx_participant_cube", "stream_id, contract_id, contributions", shares
        )
        copy_rows(connection, "mx_cube", "contract_id, measure, provider_id, site, cohort, flags, "
                  "k1, k2, n", ((CONTRACT, *key, n) for key, n in cube.items() if n))  # fmt: skip
        copy_rows(connection, "mx_money", "position, contract_id, provider_id, kind, "
                  "outcome_minor, paid_minor, capped_minor, booked_period, recorded_at",
                  ((i, CONTRACT, p, "accrual", 100_000, 50_000, 0, f"{RECORDED:%Y-%m}", RECORDED)
                   for i, (_, p, events) in enumerate(crowd) if len(events) > 2))  # fmt: skip
        connection.execute("ANALYZE")
    return {"participants": len(crowd), "events": len(event_rows), "cube_rows": len(cube)}


def naive_funnel(url: str) -> None:
    with psycopg.connect(url) as connection:
        connection.execute(
            "SELECT type, to_char(first_on, 'YYYY-MM'), count(*) FROM ("
            "  SELECT stream_id, type, min(occurred_on) AS first_on FROM mx_events"
            "  WHERE contract_id = %s AND superseded_at IS NULL GROUP BY stream_id, type"
            ") firsts GROUP BY 1, 2",
            (CONTRACT,),
        ).fetchall()


def serve(url: str, folder: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "METRICS_DATABASE_URL": url,
        "METRICS_FOLLOW": "false",
        "METRICS_PORT": str(port),
        "OUTCOMES_DATA_DIR": folder,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "metrics"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base)
    return process, base


def measure(base: str, url: str, requests: int) -> list[tuple[str, float, float]]:
    token = TokenSigner.from_settings(CommonSettings()).issue(Role.AUDITOR)
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    reports = f"/v1/contracts/{CONTRACT}/reports"

    def get(path: str, **params: str) -> None:
        response = client.get(path, params={"month": MONTH, **params})
        response.raise_for_status()

    cases: list[tuple[str, Any, int]] = [
        ("baseline: naive funnel SQL", lambda: naive_funnel(url), requests)
    ]
    names = client.get(reports, params={"month": MONTH}).json()["sections"]
    cases += [(f"report {name}", lambda n=name: get(f"{reports}/{n}"), requests) for name in names]
    past = "2026-01-02T00:00:00Z"
    cases += [
        ("all reports", lambda: get(reports), requests),
        ("all reports, provider+site", lambda: get(reports, provider_id="alpha", site="north"),
         requests),
        ("dashboard", lambda: get(f"/dashboard/{CONTRACT}"), requests),
        ("funnel as known at (rebuilt)", lambda: get(f"{reports}/funnel", as_known_at=past), 3),
    ]  # fmt: skip
    found = []
    for label, call, repeat in cases:
        p50, p95 = summary(timed(call, repeat))
        found.append((label, p50, p95))
        print(f"  {label:34} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms", flush=True)
    client.close()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    document = rulebook_document()
    with temporary_database("bench_reports") as url, tempfile.TemporaryDirectory() as folder:
        started = dt.datetime.now(dt.UTC)
        sizes = load(url, document, people(args.participants))
        loaded_s = (dt.datetime.now(dt.UTC) - started).total_seconds()
        print(f"loaded {sizes} in {loaded_s:.0f}s", flush=True)
        process, base = serve(url, folder)
        try:
            results = measure(base, url, args.requests)
            rss = peak_rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(30)
    baseline_p95 = results[0][2]
    print(f"\nreports on {args.participants:,} participants (p95 target: 200 ms)")
    print(f"{'case':36} {'p50 ms':>9} {'p95 ms':>9} {'p95/baseline':>13}  target")
    for label, p50, p95 in results:
        verdict = "" if label.startswith("baseline") else ("met" if p95 <= 200 else "MISSED")
        print(f"{label:36} {p50:9.1f} {p95:9.1f} {p95 / baseline_p95:13.2f}  {verdict}")
    verdict = "met" if rss <= 300 else "MISSED"
    print(f"\npeak RSS of the metrics service during these requests: {rss:.1f} MB "
          f"(target <= 300 MB: {verdict})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
