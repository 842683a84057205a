"""The whole pipeline at scale (issue 20, point 6): a contract's participants loaded through
batch intake, the ledger and metrics following, against raw baselines of the same run.

    .venv/bin/python -m bench.pipeline [--participants 1000000] [--posters 2]

PostgreSQL on loopback, fresh databases dropped afterwards; the three services run as in
production (``outcomes serve <name>``, one worker each, followers on: ``bench/intake.py``'s
``Services``). The contract is the IPS example with automatic verification, so every claim
reaches the ledger. Each participant walks the journey (referral, enrollment, job start, 13
weeks' sustainment) and stops early at a fixed rate, about 2.5 events each; ``--posters``
clients post batches of 1,000 events at once.

Reported, each against its baseline where it has one:

- B2: raw ``executemany`` into an event-store-shaped table (rows/s), 10 s before anything else;
- intake events/s (and each tenth's, to show whether recording slows as the store grows);
- catch-up: from the last batch's answer until the ledger and metrics have applied the whole
  claims feed;
- B3 the claims notification log read straight from SQL, against the feed over HTTP;
- the ledger and metrics rebuilt from the feeds into fresh databases (history events/s,
  against B3);
- peak RSS (``VmHWM``) of each service over the whole run;
- a check: the rebuilt ledger posted as many transactions as the live one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.common import temporary_database
from bench.intake import (
    CONTRACT,
    JOURNEY,
    PROVIDER,
    SERVICES,
    Services,
    direct_read,
    http_read,
    raw_executemany,
    rebuild_both,
    rulebook_yaml,
    wait_caught_up,
)
from shared.auth import Role, TokenSigner
from shared.settings import CommonSettings

BATCH = 1000
FIRST_DAY = dt.date(2024, 1, 1)
STAY = 0.75  # the share of participants who go on to each next step


def journeys(first: int, last: int) -> Iterator[dict[str, Any]]:
    """Participants ``first`` to ``last - 1``'s events, each journey in order."""
    for number in range(first, last):
        rng = random.Random(number)
        day = FIRST_DAY + dt.timedelta(days=rng.randrange(700))
        for step, (kind, offset, attributes) in enumerate(JOURNEY):
            if step and rng.random() > STAY:
                break
            yield {
                "event_id": f"e{number}-{step}",
                "participant_ref": f"p{number}",
                "type": kind,
                "occurred_on": (day + dt.timedelta(days=offset)).isoformat(),
                "attributes": attributes,
            }


class Intake:
    """Posts participants' journeys in batches from several clients, and times each tenth."""

    def __init__(self, base: str, token: str, participants: int, posters: int) -> None:
        self._base, self._token = base, token
        self._participants, self._posters = participants, posters
        self._lock = threading.Lock()
        self.events = 0
        self.done = 0
        self.tenths: list[tuple[int, float]] = []  # (events so far, seconds so far)
        self.failures: list[str] = []

    def run(self) -> float:
        started = time.perf_counter()
        self._started = started
        share = -(-self._participants // self._posters)
        threads = [
            threading.Thread(
                target=self._post,
                args=(index * share, min(self._participants, (index + 1) * share)),
            )
            for index in range(self._posters)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.failures:
            raise RuntimeError(f"intake refused batches: {self.failures[:3]}")
        return time.perf_counter() - started

    def _post(self, first: int, last: int) -> None:
        path = f"/v1/contracts/{CONTRACT}/events/batch"
        headers = {"Authorization": f"Bearer {self._token}"}
        with httpx.Client(base_url=self._base, headers=headers, timeout=120.0) as client:
            pending: list[dict[str, Any]] = []
            for event in journeys(first, last):
                pending.append(event)
                if len(pending) == BATCH:
                    self._send(client, path, pending)
                    pending = []
            if pending:
                self._send(client, path, pending)

    def _send(self, client: httpx.Client, path: str, events: list[dict[str, Any]]) -> None:
        for attempt in range(5):
            answer = client.post(path, json={"events": events})
            if answer.status_code != 503:
                break
            time.sleep(float(answer.headers.get("Retry-After", "1")) * (attempt + 1))
        if answer.status_code != 201:
            self.failures.append(f"{answer.status_code} {answer.text[:200]}")
            return
        participants = {e["participant_ref"] for e in events}
        with self._lock:
            self.events += len(events)
            tenth = max(1, self._participants // 10)
            before = self.done // tenth
            self.done += len(participants)  # approximate: a journey may span two batches
            if self.done // tenth > before:
                elapsed = time.perf_counter() - self._started
                self.tenths.append((self.events, elapsed))
                print(
                    f"   {self.events:>10,} events in {elapsed:7.1f} s "
                    f"({self.events / elapsed:,.0f}/s)",
                    flush=True,
                )


def serving(
    stack: ExitStack, folder: str, databases: dict[str, str]
) -> tuple[Services, TokenSigner]:
    """The three services started on their databases (stopped with ``stack``), the benchmark's
    contract registered; and the signer of their development tokens."""
    services = Services(folder, {name: databases[name] for name in SERVICES})
    services.start()
    stack.callback(services.stop)
    signer = TokenSigner.from_settings(CommonSettings(env="development", data_dir=Path(folder)))
    httpx.post(
        f"{services.url('claims')}/v1/contracts",
        content=rulebook_yaml(),
        headers={
            "Authorization": f"Bearer {signer.issue(Role.ADMIN)}",
            "Content-Type": "application/yaml",
        },
    ).raise_for_status()
    return services, signer


def transactions(url: str) -> int:
    """How many transactions a ledger store posted (its stored postings, counted in SQL)."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM ledger_events WHERE topic LIKE %s", ("%TransactionPosted",)
        ).fetchone()
    return int(row[0]) if row else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--posters", type=int, default=2, help="clients posting batches at once")
    args = parser.parse_args()
    say = print
    begun = time.perf_counter()
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        databases = {
            name: stack.enter_context(temporary_database(f"pipe_{name}"))
            for name in ("bare", *SERVICES, "ledger_rebuilt", "metrics_rebuilt")
        }
        say("B2: raw executemany, 100 rows a transaction, 10 s …", flush=True)
        b2 = raw_executemany(databases["bare"], 10.0)
        services, signer = serving(stack, folder, databases)
        admin = signer.issue(Role.ADMIN)

        say(f"intake: {args.participants:,} participants, {args.posters} posters …", flush=True)
        intake = Intake(
            services.url("claims"),
            signer.issue(Role.PROVIDER, provider_id=PROVIDER),
            args.participants,
            args.posters,
        )
        intake_s = intake.run()
        say("catching up …", flush=True)
        started = time.perf_counter()
        wait_caught_up(services, admin, timeout_s=7200.0)
        catch_up_s = time.perf_counter() - started

        say("B3 and the feed over HTTP …", flush=True)
        b3_count, b3 = direct_read(databases["claims"])
        feed_count, feed_rate = http_read(services.url("claims"), admin)
        say("rebuilding the ledger, then metrics …", flush=True)
        ledger_count, ledger_s, metrics_count, metrics_s = rebuild_both(services, admin, databases)
        rss = services.peak_rss_mb()
        live, rebuilt = transactions(databases["ledger"]), transactions(databases["ledger_rebuilt"])
    total_s = time.perf_counter() - begun

    intake_rate = intake.events / intake_s
    first_tenth = intake.tenths[0][1] / intake.tenths[0][0] if intake.tenths else 0.0
    last_tenth = (
        (intake.tenths[-1][1] - intake.tenths[-2][1])
        / (intake.tenths[-1][0] - intake.tenths[-2][0])
        if len(intake.tenths) > 1
        else 0.0
    )
    rows = [
        ("B2 raw executemany, 100 rows a transaction", f"{b2:,.0f} rows/s", ""),
        ("intake, batches of 1,000", f"{intake_rate:,.0f} events/s", f"{intake_rate / b2:.3f} B2"),
        ("intake, last tenth's time an event / first's", f"{last_tenth / first_tenth:.2f}"
         if first_tenth else "-", ""),
        ("catch-up after the last batch", f"{catch_up_s:,.1f} s", ""),
        ("B3 direct read of the claims log", f"{b3:,.0f} rows/s", f"{b3_count:,} rows"),
        ("feed over HTTP", f"{feed_rate:,.0f} entries/s",
         f"{(b3_count / b3) / (feed_count / feed_rate):.3f} B3 (time)"),
        ("ledger rebuilt", f"{feed_count / ledger_s:,.0f} history events/s",
         f"{ledger_count:,} applied"),
        ("metrics rebuilt", f"{feed_count / metrics_s:,.0f} history events/s",
         f"{metrics_count:,} applied"),
    ]  # fmt: skip
    rows += [(f"peak RSS {name}", f"{value:,.1f} MB", "") for name, value in rss.items()]
    rows.append(("ledger transactions, live / rebuilt", f"{live:,} / {rebuilt:,}", ""))
    say(f"\n{intake.events:,} events of {args.participants:,} participants; {feed_count:,} "
        f"feed entries; whole run {total_s / 60:.1f} min")  # fmt: skip
    for label, value, against in rows:
        say(f"{label:48} {value:>26}  {against}")
    return 0 if live == rebuilt else 1


if __name__ == "__main__":
    sys.exit(main())
