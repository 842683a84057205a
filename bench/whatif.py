"""What-if replay time on a contract with many participants (PostgreSQL, loopback only).

    .venv/bin/python -m bench.whatif [--participants 100000]

Loads the IPS example contract and N participants' journeys (referral, enrollment, a job start
and a 13-week sustainment for some) through the claims application's intake in batches of
1,000 events, so the store holds what intake really writes (participants, events, claims and
their submissions, receipts). Then times, in the same run:

- baseline: reading the claims notification log raw (no decoding), the least any replay of
  every event must do;
- the what-if replay of every participant under a draft with a changed tariff, through the
  application (the same function the endpoint runs).

Prints both and the ratio; the target is under 60 s for 100,000 participants. Bounded: one
replay; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from bench.common import temporary_database
from services.claims.application import ClaimsApplication
from services.claims.commands import IncomingEvent
from services.claims.personal import PersonalDataVault
from services.claims.whatif import what_if
from shared.rules.model import parse_rulebook
from shared.sqlviews import create_engine, migrate
from shared.storeurls import sqlalchemy_url

ROOT = Path(__file__).parents[1]
RULEBOOK = ROOT / "examples" / "contracts" / "ips-employment.yaml"
MIGRATIONS = ROOT / "services" / "claims" / "migrations"
BATCH = 1000
PROVIDERS = ("northside-ips", "riverside-works")
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
KEY = "YmVuY2gtcGVyc29uYWwtZGF0YS1rZXktMDEyMzQ1Njc="


def journey(rng: random.Random, ref: str) -> list[IncomingEvent]:
    day = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(500))
    found = [IncomingEvent(f"{ref}-r", ref, "referral", day, {})]
    steps: tuple[tuple[str, int, dict[str, int]], ...] = (
        ("enrollment", 7, {}),
        ("job_start", 30, {"hours_per_week": rng.choice([12, 20, 35])}),
    )
    for stage, gap, attributes in steps:
        if rng.random() < 0.3:
            return found
        day = day + dt.timedelta(days=rng.randrange(1, gap))
        found.append(IncomingEvent(f"{ref}-{stage}", ref, stage, day, attributes))
    if rng.random() < 0.6:
        found.append(
            IncomingEvent(f"{ref}-s", ref, "job_sustained", day + dt.timedelta(days=95), {})
        )
    return found


def load(
    app: ClaimsApplication, participants: int, every: Callable[[int], None] | None = None
) -> int:
    """Record ``participants`` journeys through intake in batches; the events recorded. With
    ``every``, called with the count of journeys done after each tenth of them."""
    rng = random.Random(11)
    pending: dict[str, list[IncomingEvent]] = {p: [] for p in PROVIDERS}
    recorded = 0
    tenth = max(1, participants // 10)
    for index in range(participants):
        provider = PROVIDERS[index % 2]
        pending[provider] += journey(rng, f"p{index}")
        if len(pending[provider]) >= BATCH:
            app.intake.record_events(
                "ips-employment", provider, pending[provider], "provider:bench"
            )
            recorded += len(pending[provider])
            pending[provider] = []
        if every is not None and (index + 1) % tenth == 0:
            every(index + 1)
    for provider, events in pending.items():
        if events:
            app.intake.record_events("ips-employment", provider, events, "provider:bench")
            recorded += len(events)
    return recorded


def raw_read(app: ClaimsApplication) -> int:
    count, after = 0, 0
    while page := app.recorder.select_notifications(
        start=after, limit=BATCH, inclusive_of_start=False
    ):
        count += len(page)
        after = page[-1].id
    return count


@contextlib.contextmanager
def registered_contract(database: str) -> Iterator[tuple[ClaimsApplication, dict[str, Any]]]:
    """A claims application on a new PostgreSQL database (dropped after), the IPS example
    contract registered; yields it and the rule book's document."""
    document = yaml.safe_load(RULEBOOK.read_text())
    with temporary_database(database) as url:
        engine = create_engine(sqlalchemy_url(url))
        migrate(engine, MIGRATIONS, "alembic_version_claims")
        app = ClaimsApplication(
            url, "bench-pseudonym-key", lambda: NOW, PersonalDataVault(engine, KEY)
        )
        try:
            app.contracts.register(parse_rulebook(document))
            yield app, document
        finally:
            app.close()
            engine.dispose()


def participants_wanted(description: str) -> int:
    parser = argparse.ArgumentParser(description=description.split("\n")[0])
    parser.add_argument("--participants", type=int, default=100_000)
    return int(parser.parse_args().participants)


def main() -> int:
    participants = participants_wanted(__doc__ or "")
    with registered_contract("bench_whatif") as (app, document):
        started = time.monotonic()
        events = load(app, participants)
        print(
            f"loaded {participants:,} participants, {events:,} events through intake "
            f"in {time.monotonic() - started:.0f}s",
            flush=True,
        )
        started = time.monotonic()
        notifications = raw_read(app)
        baseline_s = time.monotonic() - started
        draft = dict(document)
        draft["outcomes"] = [dict(o) for o in document["outcomes"]]
        draft["outcomes"][1]["price"] = "1750.00"
        started = time.monotonic()
        result = what_if(app.read_lean, parse_rulebook(draft), "ips-employment")
        replay_s = time.monotonic() - started
    differing = sum(t.differing_claims for t in result.by_provider_outcome.values())
    print(f"baseline: raw read of {notifications:,} notifications  {baseline_s:8.1f} s")
    print(
        f"what-if over {result.participants:,} participants      {replay_s:8.1f} s  "
        f"({replay_s / baseline_s:.1f}x the baseline; {differing:,} claims would differ)"
    )
    print(f"target: under 60 s -> {'met' if replay_s < 60 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
