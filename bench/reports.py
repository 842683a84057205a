"""Report latency on a contract with many participants (PostgreSQL, loopback only).

    .venv/bin/python -m bench.reports [--participants 100000] [--requests 40]
                                      [--boundaries 2025-06-01..2025-08-01]

1. Creates a fresh PostgreSQL database with the metrics tables, and loads a contract of N
   participants with seeded random journeys over two years: the bitemporal event rows (each
   recorded one to three days after it happened, so the history is known month by month), and
   the report cube computed from them by the same functions the live projector uses
   (``services.metrics.facts``), bulk-copied. Then stores the cube's hour-start boundaries
   (full copies at month starts, day and hour changes between) with the projector's own
   function, timed.
2. Starts the metrics service (uvicorn, followers off) on that database.
3. Times, in the same run: the baseline, a naive funnel (GROUP BY over the raw event rows, what
   a system without read models would run for its simplest report), then each report endpoint
   over HTTP, the whole report set, a filtered set, the dashboard, and the funnel "as known at"
   a month start (a full copy as it is), the middle and the end of that month (the full copy,
   the day and hour changes since, and the participants changed since the hour start), all
   reports and the dashboard as known at mid-month, and, for comparison, the mid-month funnel
   with the snapshots removed (the full rebuild from the event rows). Prints p50/p95, each p95
   as a ratio to the baseline's p95, and the service's peak RSS before the full rebuild (the
   service as it runs) and after it.

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
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa
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
from services.metrics.readmodels.performance import PerformanceProjector
from services.metrics.readmodels.snapshots import (
    FULL,
    Snapshot,
    take_boundary,
    take_due_boundaries,
)
from shared.auth import Role, TokenSigner
from shared.rules.model import parse_rulebook
from shared.settings import CommonSettings
from shared.sqlviews import create_engine, migrate
from shared.storeurls import sqlalchemy_url

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


def recorded_times(crowd: list[Person], seed: int = 11) -> list[list[dt.datetime]]:
    """When each event was recorded: one to three days after it happened, at some second."""
    rng = random.Random(seed)
    return [
        [
            dt.datetime.combine(e.occurred_on, dt.time(), dt.UTC)
            + dt.timedelta(days=rng.randint(1, 3), seconds=rng.randrange(86_400))
            for e in events
        ]
        for _, _, events in crowd
    ]


def load(
    url: str, document: dict[str, Any], crowd: list[Person], window: Window | None = None
) -> dict[str, int]:
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
    times = recorded_times(crowd)
    in_order = sorted(
        ((at, stream_id, e) for (stream_id, _, events), ats in zip(crowd, times, strict=True)
         for e, at in zip(events, ats, strict=True)),
        key=lambda found: found[0],
    )  # fmt: skip
    event_rows = [
        (position, stream_id, CONTRACT, f"{stream_id}-{e.type}", e.type, e.occurred_on,
         json.dumps(e.attributes), at)
        for position, (at, stream_id, e) in enumerate(in_order, start=1)
    ]  # fmt: skip
    with psycopg.connect(url) as connection:
        connection.execute(
            "INSERT INTO mx_rulebooks VALUES (%s, 1, %s, %s)",
            (CONTRACT, json.dumps(document), dt.datetime.combine(START, dt.time(), dt.UTC)),
        )
        known = zip(crowd, times, strict=True)
        first_known = ((s, CONTRACT, p, min(ats)) for (s, p, _), ats in known)
        copy_rows(connection, "mx_participants", "stream_id, contract_id, provider_id, recorded_at",
                  first_known)  # fmt: skip
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
        connection.execute(  # the running totals the money handler keeps beside the rows
            "INSERT INTO mx_money_totals SELECT contract_id, provider_id, booked_period, "
            "sum(outcome_minor), sum(paid_minor), sum(capped_minor) FROM mx_money "
            "GROUP BY contract_id, provider_id, booked_period"
        )
        connection.execute("ANALYZE")
    return {"participants": len(crowd), "events": len(event_rows), "cube_rows": len(cube),
            **take_snapshots(url, event_rows[-1][-1], window)}  # fmt: skip


Window = tuple[dt.datetime, dt.datetime]


def take_snapshots(
    url: str, last_recorded: dt.datetime, window: Window | None = None
) -> dict[str, int]:
    """Every hour-start boundary up to the last event, as the projector stores them (a week of
    them per transaction, as after an upgrade); with ``window``, only the hours in it, the
    first a full copy rebuilt from the events (as for a contract first seen then)."""
    engine = create_engine(sqlalchemy_url(url))
    projector = PerformanceProjector()
    taken: list[Snapshot] = []
    started = time.perf_counter()
    try:
        if window is None:
            while True:
                with engine.begin() as connection:
                    found = take_due_boundaries(connection, projector.plan_of, last_recorded)
                if not found:
                    break
                taken += found
        else:
            hour, until = window
            while hour <= until:
                with engine.begin() as connection:
                    found_one = take_boundary(connection, projector.plan_of, CONTRACT, hour)
                taken += [found_one] if found_one else []
                hour += dt.timedelta(hours=1)
        elapsed = time.perf_counter() - started
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
            rows = connection.execute(sa.text("SELECT count(*) FROM mx_snapshot_cube")).scalar()
    finally:
        engine.dispose()
    full = sum(1 for snapshot in taken if snapshot.kind == FULL)
    print(f"stored {len(taken)} hour-start boundaries ({full} full copies) in {elapsed:.1f}s, "
          f"{1000 * elapsed / max(len(taken), 1):.1f} ms an hour", flush=True)  # fmt: skip
    return {"boundaries": len(taken), "full_copies": full, "snapshot_rows": int(rows or 0)}


def drop_snapshots(url: str) -> None:
    with psycopg.connect(url) as connection:
        connection.execute("DELETE FROM mx_snapshot_cube")
        connection.execute("DELETE FROM mx_snapshots")


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
        [sys.executable, "-m", "services.cli", "serve", "metrics", "--migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base)
    return process, base


def measure(
    base: str, url: str, requests: int, rss: Callable[[], float]
) -> tuple[list[tuple[str, float, float]], float]:
    """The cases' (label, p50, p95), and the service's peak RSS before the full rebuild."""
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

    def rebuilt() -> None:
        drop_snapshots(url)
        get(funnel, as_known_at=middle)

    start, middle, end = "2025-07-01T00:00:00Z", "2025-07-16T12:00:00Z", "2025-07-31T23:00:00Z"
    funnel = f"{reports}/funnel"
    cases += [
        ("all reports", lambda: get(reports), requests),
        ("all reports, provider+site", lambda: get(reports, provider_id="alpha", site="north"),
         requests),
        ("dashboard", lambda: get(f"/dashboard/{CONTRACT}"), requests),
        ("funnel as known at a month start", lambda: get(funnel, as_known_at=start), requests),
        ("funnel as known at mid-month", lambda: get(funnel, as_known_at=middle), requests),
        ("funnel as known at a month's end", lambda: get(funnel, as_known_at=end), requests),
        ("all reports as known at mid-month", lambda: get(reports, as_known_at=middle),
         requests),
        ("dashboard as known at mid-month",
         lambda: get(f"/dashboard/{CONTRACT}", as_known_at=middle), requests),
        ("funnel as known at mid-month, no snapshots", rebuilt, 3),
    ]  # fmt: skip
    found = []
    serving_rss = 0.0
    for label, call, repeat in cases:
        if label.endswith("no snapshots"):
            serving_rss = rss()
        p50, p95 = summary(timed(call, repeat))
        found.append((label, p50, p95))
        print(f"  {label:44} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms", flush=True)
    client.close()
    return found, serving_rss


def target_ms(label: str) -> int | None:
    """Issue 17's targets: a report 100 ms, all reports 200, the dashboard and any "as known
    at" answer 300 (the full rebuild and the baseline are for comparison only)."""
    if label.startswith("baseline") or label.endswith("no snapshots"):
        return None
    if "known at" in label or label.startswith("dashboard"):
        return 300
    return 200 if label.startswith("all reports") else 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--boundaries",
        metavar="FROM..UNTIL",
        help="store the boundaries of these days only (e.g. 2025-06-01..2025-08-01, around "
        "the July moments asked; the first a full copy), not of the whole history",
    )
    args = parser.parse_args()
    window = None
    if args.boundaries:
        since, _, until = args.boundaries.partition("..")
        window = (
            dt.datetime.combine(dt.date.fromisoformat(since), dt.time(), dt.UTC),
            dt.datetime.combine(dt.date.fromisoformat(until), dt.time(), dt.UTC),
        )
    document = rulebook_document()
    with temporary_database("bench_reports") as url, tempfile.TemporaryDirectory() as folder:
        started = dt.datetime.now(dt.UTC)
        sizes = load(url, document, people(args.participants), window)
        loaded_s = (dt.datetime.now(dt.UTC) - started).total_seconds()
        print(f"loaded {sizes} in {loaded_s:.0f}s", flush=True)
        process, base = serve(url, folder)
        try:
            results, serving_rss = measure(
                base, url, args.requests, lambda: peak_rss_mb(process.pid)
            )
            rss = peak_rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(30)
    baseline_p95 = results[0][2]
    print(
        f"\nreports on {args.participants:,} participants "
        "(p95 targets: a report 100 ms, all 200, dashboard and as known at 300)"
    )
    print(f"{'case':44} {'p50 ms':>9} {'p95 ms':>9} {'p95/baseline':>13}  target")
    for label, p50, p95 in results:
        target = target_ms(label)
        verdict = "" if target is None else ("met" if p95 <= target else "MISSED")
        print(f"{label:44} {p50:9.1f} {p95:9.1f} {p95 / baseline_p95:13.2f}  {verdict}")
    verdict = "met" if serving_rss <= 300 else "MISSED"
    print(f"\npeak RSS of the metrics service before the full rebuild: {serving_rss:.1f} MB "
          f"(target <= 300 MB: {verdict}); after it: {rss:.1f} MB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
