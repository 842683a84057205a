"""Intake, lag, rebuild, feed and memory figures against same-run baselines (PostgreSQL).

    .venv/bin/python -m bench.intake [--seconds 20] [--connections 64]

Everything runs on loopback against fresh databases dropped afterwards, for bounded times:

- baseline B1: a bare FastAPI endpoint doing one INSERT per request (``bench/bare.py``), at the
  same concurrency as P1, driven by the same load generator (``bench/load.py``);
- baseline B2: raw ``executemany`` of 100 rows per transaction into a table shaped like the
  event store's;
- baseline B3: reading the claims store's notification log directly (SQL, no decoding);
- P1: single-event POSTs to the claims service (token, validation, event store, derivation);
- P2: batch intake, 1,000 events per request;
- P3: the lag from an event's POST to its ledger transaction (seen on the ledger's feed) and to
  its metrics row (seen in the metrics table), at half P1's throughput, open loop;
- P4: a full rebuild of the ledger and metrics read models from the claims history;
- P5: reading the claims feed over HTTP, against B3;
- P7: peak RSS (``VmHWM``) of each service process over all of the above.

The services run as they do in production: ``outcomes serve <name>`` (uvicorn, one worker),
followers on. Services are started with ``OUTCOMES_ENV=development`` (development keys).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

from bench.common import free_port, peak_rss_mb, percentile, temporary_database, wait_healthy
from bench.load import LoadResult, run_load
from services.ledger.application import CLAIMS_TYPES, ClaimsFeedSink, LedgerApplication
from services.metrics.api import MIGRATIONS as METRICS_MIGRATIONS
from services.metrics.following import upstreams as metrics_upstreams
from services.metrics.readmodels.performance import CLAIMS_FEED_TYPES
from services.metrics.rebuild import rebuild as rebuild_metrics
from shared.auth import Role, TokenSigner
from shared.feed import catalogue as feed
from shared.feed.envelope import MAX_PAGE_SIZE
from shared.feed.follower import HttpFeedSource
from shared.feed.replay import drain
from shared.settings import CommonSettings
from shared.sqlviews import create_engine, migrate
from shared.storeurls import sqlalchemy_url

ROOT = Path(__file__).parents[1]
CONTRACT = "ips-employment"
PROVIDER = "northside-ips"
JOURNEY: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("referral", 0, {"referral_source": "primary_care", "long_term_unemployed": True}),
    ("enrollment", 10, {}),
    ("job_start", 30, {"hours_per_week": 20, "hourly_wage": "12.50"}),
    ("job_sustained", 130, {}),
)
FIRST_DAY = dt.date(2025, 2, 1)
SERVICES = ("claims", "ledger", "metrics")


def rulebook_yaml() -> str:
    """The IPS example with automatic verification (so each claim reaches the ledger at once)
    and a cap too large to bind."""
    document = yaml.safe_load((ROOT / "examples/contracts/ips-employment.yaml").read_text())
    document["verification"]["mode"] = "automatic"
    document["caps"][0]["amount"] = "9999999999.00"
    return yaml.safe_dump(document)


def journey_event(run: str, number: int, sequence: int) -> dict[str, Any]:
    """Connection ``number``'s ``sequence``-th event: participants walk the journey in order."""
    person, step = divmod(sequence, len(JOURNEY))
    kind, offset, attributes = JOURNEY[step]
    day = FIRST_DAY + dt.timedelta(days=(person % 300) + offset)
    return {
        "event_id": f"{run}-{number}-{sequence}",
        "participant_ref": f"{run}-{number}-{person}",
        "type": kind,
        "occurred_on": day.isoformat(),
        "attributes": attributes,
    }


# ---- processes ------------------------------------------------------------------------------
@dataclass
class Services:
    folder: str
    databases: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICES_PREFIXES)}
        env |= {"OUTCOMES_ENV": "development", "OUTCOMES_DATA_DIR": self.folder}
        for name in SERVICES:
            env[f"{name.upper()}_PORT"] = str(self.ports[name])
            env[f"{name.upper()}_DATABASE_URL"] = self.databases[name]
        env |= {
            "LEDGER_CLAIMS_URL": self.url("claims"),
            "METRICS_CLAIMS_URL": self.url("claims"),
            "METRICS_LEDGER_URL": self.url("ledger"),
        }
        return env

    def start(self) -> None:
        self.ports = {name: free_port() for name in SERVICES}
        for name in SERVICES:
            log = Path(self.folder, f"{name}.log").open("ab")  # noqa: SIM115 - child's stdout
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", name, "--migrate"],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            wait_healthy(self.url(name))

    def peak_rss_mb(self) -> dict[str, float]:
        return {name: peak_rss_mb(p.pid) for name, p in self.processes.items()}

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait(30)


SERVICES_PREFIXES = ("CLAIMS_", "LEDGER_", "METRICS_")


@contextmanager
def bare_server(url: str, folder: str) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "bench.bare:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--no-server-header", "--log-level", "warning",
    ]  # fmt: skip
    log = Path(folder, "bare.log").open("ab")  # noqa: SIM115 - the child's stdout
    process = subprocess.Popen(
        command, env={**os.environ, "BARE_DATABASE_URL": url}, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        yield base
    finally:
        process.terminate()
        process.wait(30)
        log.close()


# ---- baselines ---------------------------------------------------------------------------------
def raw_executemany(url: str, seconds: float, rows_per_txn: int = 100) -> float:
    """Rows per second: executemany of ``rows_per_txn`` event-store-shaped rows a transaction."""
    state = json.dumps({"event_id": "x" * 24, "type": "enrollment", "attributes": {}}).encode()
    with psycopg.connect(url) as connection:
        connection.execute(
            "CREATE TABLE raw_events (originator_id uuid NOT NULL, originator_version integer "
            "NOT NULL, topic text NOT NULL, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        connection.execute("CREATE UNIQUE INDEX ON raw_events (notification_id)")
        connection.commit()
        written, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            rows = [
                (uuid.uuid4(), 1, "services.claims.domain:Participant.EventRecorded", state)
                for _ in range(rows_per_txn)
            ]
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO raw_events (originator_id, originator_version, topic, state) "
                    "VALUES (%s, %s, %s, %s)",
                    rows,
                )
            connection.commit()
            written += rows_per_txn
        return written / (time.perf_counter() - started)


def direct_read(url: str, page: int = MAX_PAGE_SIZE) -> tuple[int, float]:
    """(notifications, per second) reading the claims notification log straight from SQL."""
    with psycopg.connect(url) as connection:
        table = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%events' "
            "AND table_schema = 'public' AND table_name LIKE 'claims%'"
        ).fetchone()
        assert table is not None
        after, count, started = 0, 0, time.perf_counter()
        while True:
            rows = connection.execute(
                f"SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608
                f"FROM {table[0]} WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
                (after, page),
            ).fetchall()
            if not rows:
                break
            after, count = rows[-1][0], count + len(rows)
        return count, count / (time.perf_counter() - started)


def http_read(base: str, token: str) -> tuple[int, float]:
    source = HttpFeedSource(base, lambda: token)
    after, count, started = 0, 0, time.perf_counter()
    while True:
        page = source.read_page(after, MAX_PAGE_SIZE)
        if not page.items:
            break
        after, count = page.items[-1].position, count + len(page.items)
    source.close()
    return count, count / (time.perf_counter() - started)


# ---- P3: lag -------------------------------------------------------------------------------------
class Watcher:
    """Notes when each claim's ledger transaction and each event's metrics row first appear."""

    def __init__(self, ledger: str, token: str, metrics_db: str) -> None:
        self.ledger_seen: dict[str, float] = {}
        self.metrics_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._ledger, args=(ledger, token), daemon=True),
            threading.Thread(target=self._metrics, args=(metrics_db,), daemon=True),
        ]

    def __enter__(self) -> Watcher:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _ledger(self, base: str, token: str) -> None:
        source = HttpFeedSource(base, lambda: token)
        after = source.read_page(0, 1).head_position or 0
        while not self._stop.is_set():
            page = source.read_page(after, MAX_PAGE_SIZE, wait_s=0.5)
            now = time.perf_counter()
            for item in page.items:
                if item.type == feed.TransactionPosted.TYPE:
                    self.ledger_seen.setdefault(feed.TransactionPosted.of(item).claim_id, now)
            after = page.last_position or after
        source.close()

    def _metrics(self, url: str) -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            after = connection.execute("SELECT coalesce(max(position), 0) FROM mx_events")
            last = int(after.fetchone()[0])  # type: ignore[index]
            while not self._stop.is_set():
                rows = connection.execute(
                    "SELECT position, event_id FROM mx_events WHERE position > %s", (last,)
                ).fetchall()
                now = time.perf_counter()
                for position, event_id in rows:
                    self.metrics_seen.setdefault(event_id, now)
                    last = max(last, position)
                time.sleep(0.01)


def lags(result: LoadResult, watcher: Watcher, wait_s: float = 30.0) -> tuple[list[float], ...]:
    sent_claims: dict[str, float] = {}
    sent_events: dict[str, float] = {}
    for sent, _done, body in result.answers:
        answer = json.loads(body)
        sent_events[answer["event_id"]] = sent
        for claim_id in answer["claim_ids"]:
            sent_claims[claim_id] = sent
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not (
        sent_claims.keys() <= watcher.ledger_seen.keys()
        and sent_events.keys() <= watcher.metrics_seen.keys()
    ):
        time.sleep(0.1)
    ledger = [
        watcher.ledger_seen[c] - s for c, s in sent_claims.items() if c in watcher.ledger_seen
    ]
    metrics = [
        watcher.metrics_seen[e] - s for e, s in sent_events.items() if e in watcher.metrics_seen
    ]
    missing = len(sent_claims) - len(ledger) + len(sent_events) - len(metrics)
    return ledger, metrics, [float(missing)]


# ---- P4: rebuild -------------------------------------------------------------------------------
def rebuild_ledger(claims: str, token: str, url: str) -> tuple[int, float]:
    application = LedgerApplication(url, clock=lambda: dt.datetime.now(dt.UTC))
    sink = ClaimsFeedSink(application)
    source = HttpFeedSource(claims, lambda: token, CLAIMS_TYPES)
    started = time.perf_counter()
    count = drain(source, sink)
    elapsed = time.perf_counter() - started
    source.close()
    application.close()
    return count, elapsed


def rebuild_metrics_models(claims: str, ledger: str, token: str, url: str) -> tuple[int, float]:
    engine = create_engine(sqlalchemy_url(url))
    migrate(engine, METRICS_MIGRATIONS, "alembic_version_metrics")
    urls = {"claims": claims, "ledger": ledger}
    sources = {u.name: u.source(urls[u.service], lambda: token) for u in metrics_upstreams()}
    started = time.perf_counter()
    result = rebuild_metrics(engine, sources)
    elapsed = time.perf_counter() - started
    for source in sources.values():
        source.close()
    engine.dispose()
    return result.claims_entries, elapsed


def rebuild_both(
    services: Services, token: str, databases: dict[str, str]
) -> tuple[int, float, int, float]:
    """The ledger, then metrics, rebuilt from the running services' feeds into the databases
    ``ledger_rebuilt`` and ``metrics_rebuilt``: (entries, seconds) of each."""
    ledger = rebuild_ledger(services.url("claims"), token, databases["ledger_rebuilt"])
    metrics = rebuild_metrics_models(
        services.url("claims"), services.url("ledger"), token, databases["metrics_rebuilt"]
    )
    return (*ledger, *metrics)


# ---- the run -----------------------------------------------------------------------------------
@dataclass
class Figure:
    label: str
    value: float
    unit: str
    baseline: float | None = None
    target: str = ""
    met: bool | None = None

    def line(self) -> str:
        ratio = f"{self.value / self.baseline:8.2f}x" if self.baseline else " " * 9
        verdict = "" if self.met is None else ("met" if self.met else "MISSED")
        return (
            f"{self.label:58} {self.value:12,.1f} {self.unit:14} {ratio}  {self.target} {verdict}"
        )


def ms(samples: list[float], share: float) -> float:
    return percentile(samples, share) * 1000 if samples else float("nan")


def check_statuses(label: str, result: LoadResult, expected: set[int]) -> None:
    unexpected = {s: n for s, n in result.statuses.items() if s not in expected}
    if unexpected:
        raise RuntimeError(f"{label}: unexpected statuses {unexpected}")


def run(args: argparse.Namespace) -> list[Figure]:
    seconds, connections = args.seconds, args.connections
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        databases = {
            name: stack.enter_context(temporary_database(f"bench_{name}"))
            for name in ("bare", *SERVICES, "ledger_rebuilt", "metrics_rebuilt")
        }
        say = print
        # B1 and B2 first, on their own database, with nothing else running
        say("B1: bare FastAPI + one INSERT per request …", flush=True)
        with bare_server(databases["bare"], folder) as bare:
            b1 = run_load(
                bare,
                lambda n, s: ("/events", journey_event("bare", n, s)),
                connections=connections,
                duration_s=seconds,
            )
        check_statuses("B1", b1, {201})
        say("B2: raw executemany, 100 rows per transaction …", flush=True)
        b2 = raw_executemany(databases["bare"], seconds)

        services = Services(folder, {name: databases[name] for name in SERVICES})
        services.start()
        stack.callback(services.stop)
        signer = TokenSigner.from_settings(CommonSettings(env="development", data_dir=Path(folder)))
        admin = signer.issue(Role.ADMIN)
        provider = {"Authorization": f"Bearer {signer.issue(Role.PROVIDER, provider_id=PROVIDER)}"}
        registered = httpx.post(
            f"{services.url('claims')}/v1/contracts",
            content=rulebook_yaml(),
            headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/yaml"},
        )
        registered.raise_for_status()
        path = f"/v1/contracts/{CONTRACT}/events"

        say("P1: single-event POST, closed loop …", flush=True)
        load = functools.partial(
            run_load, services.url("claims"), headers=provider, duration_s=seconds
        )
        p1 = load(lambda n, s: (path, journey_event("p1", n, s)), connections=connections)
        check_statuses("P1", p1, {201})
        say(f"   {p1.throughput:.0f} req/s ({b1.throughput:.0f} bare), {b2:.0f} raw rows/s")

        say("P2: batch intake, 1,000 events per request …", flush=True)
        p2 = load(
            lambda n, s: (
                f"{path}/batch",
                {"events": [journey_event(f"p2b{s}", n, i) for i in range(1000)]},
            ),
            connections=1,
        )
        check_statuses("P2", p2, {201})
        say(f"   {p2.throughput * 1000:.0f} events/s")
        time.sleep(1.0)

        say("P3: lag to the ledger and metrics at half P1's throughput …", flush=True)
        watcher = Watcher(services.url("ledger"), admin, databases["metrics"])
        with watcher:
            time.sleep(0.5)
            wait_caught_up(services, admin)
            p3 = load(
                lambda n, s: (path, journey_event("p3", n, s)),
                connections=connections,
                rate=max(1.0, p1.throughput / 2),
                keep_answers=True,
            )
            check_statuses("P3", p3, {201})
            ledger_lag, metrics_lag, missing = lags(p3, watcher)
        wait_caught_up(services, admin)

        say("P5: the claims feed, direct and over HTTP …", flush=True)
        b3_count, b3 = direct_read(databases["claims"])
        p5_count, p5 = http_read(services.url("claims"), admin)

        say("P4: rebuild the ledger and metrics from the claims history …", flush=True)
        ledger_count, ledger_s, metrics_count, metrics_s = rebuild_both(services, admin, databases)
        rss = services.peak_rss_mb()

    return figures_of(
        Measured(
            b1, b2, b3, b3_count, p1, p2, p3, ledger_lag, metrics_lag, missing[0], p5, p5_count,
            ledger_count, ledger_s, metrics_count, metrics_s, rss,
        )
    )  # fmt: skip


@dataclass
class Measured:
    b1: LoadResult
    b2: float
    b3: float
    b3_count: int
    p1: LoadResult
    p2: LoadResult
    p3: LoadResult
    ledger_lag: list[float]
    metrics_lag: list[float]
    missing: float
    p5: float
    p5_count: int
    ledger_count: int
    ledger_s: float
    metrics_count: int
    metrics_s: float
    rss: dict[str, float]


def figures_of(m: Measured) -> list[Figure]:
    """Each figure with its baseline and target, and a line on the history they rest on."""
    p1_tput, b1_tput = m.p1.throughput, m.b1.throughput
    # B3 reads every stored notification, the feed only the public ones: compare the times to
    # read the same whole log
    read_ratio = (m.b3_count / m.b3) / (m.p5_count / m.p5)
    events_p2 = m.p2.throughput * 1000
    ledger_rate, metrics_rate = m.p5_count / m.ledger_s, m.p5_count / m.metrics_s
    figures = [
        Figure("B1 bare FastAPI+INSERT, 64 conns: requests/s", b1_tput, "req/s", b1_tput),
        Figure("B1 p50", ms(m.b1.latencies_s, 0.5), "ms"),
        Figure("B1 p99", ms(m.b1.latencies_s, 0.99), "ms"),
        Figure("B2 raw executemany, 100 rows/txn: rows/s", m.b2, "rows/s", m.b2),
        Figure("B3 direct read of the notification log: rows/s", m.b3, "rows/s", m.b3),
        Figure(
            "P1 single-event POST, 64 conns: requests/s",
            p1_tput, "req/s", b1_tput, ">= 0.8x B1", p1_tput >= 0.8 * b1_tput,
        ),
        Figure("P1 p50", ms(m.p1.latencies_s, 0.5), "ms"),
        Figure(
            "P1 p99", ms(m.p1.latencies_s, 0.99), "ms", None, "<= 100 ms",
            ms(m.p1.latencies_s, 0.99) <= 100,
        ),
        Figure(
            "P2 batch intake (1,000/request): events/s",
            events_p2, "events/s", m.b2, ">= 0.3x B2", events_p2 >= 0.3 * m.b2,
        ),
        Figure("P3 load: requests/s (target: half of P1)", m.p3.throughput, "req/s"),
        Figure("P3 lag POST -> ledger transaction p50", ms(m.ledger_lag, 0.5), "ms"),
        Figure(
            "P3 lag POST -> ledger transaction p99", ms(m.ledger_lag, 0.99), "ms", None,
            "<= 500 ms", ms(m.ledger_lag, 0.99) <= 500,
        ),
        Figure("P3 lag POST -> metrics row p50", ms(m.metrics_lag, 0.5), "ms"),
        Figure(
            "P3 lag POST -> metrics row p99", ms(m.metrics_lag, 0.99), "ms", None, "<= 500 ms",
            ms(m.metrics_lag, 0.99) <= 500,
        ),
        Figure("P3 never seen within 30 s (count)", m.missing, "", None, "0", m.missing == 0),
        Figure(
            "P4 ledger rebuilt from the claims history: history events/s",
            ledger_rate, "events/s", m.b3, ">= 20,000/s", ledger_rate >= 20_000,
        ),
        Figure(
            "P4 metrics rebuilt (claims + ledger feeds): history events/s",
            metrics_rate, "events/s", m.b3, ">= 20,000/s", metrics_rate >= 20_000,
        ),
        Figure("P5 claims feed over HTTP: entries/s", m.p5, "entries/s"),
        Figure(
            "P5 time to read the whole log, direct / over HTTP",
            read_ratio, "x", None, ">= 0.3", read_ratio >= 0.3,
        ),
    ]  # fmt: skip
    figures += [
        Figure(f"P7 peak RSS {name}", value, "MB", None, "<= 300 MB", value <= 300)
        for name, value in m.rss.items()
    ]
    print(
        f"\nhistory: {m.p5_count:,} claims notifications (direct read saw {m.b3_count:,}); "
        f"P1 {len(m.p1.latencies_s):,} requests, P2 {len(m.p2.latencies_s):,} batches, "
        f"P3 {len(m.p3.latencies_s):,} requests; rebuilds over the {m.p5_count:,}-event claims "
        f"history applied the {m.ledger_count:,} entries the ledger reads in {m.ledger_s:.1f} s "
        f"and the {m.metrics_count:,} metrics reads in {m.metrics_s:.1f} s"
    )
    return figures


def wait_caught_up(services: Services, token: str, timeout_s: float = 600.0) -> None:
    """Until the ledger and metrics have applied every claims feed entry there is."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        behind = 0
        for name, types in (("ledger", CLAIMS_TYPES), ("metrics", CLAIMS_FEED_TYPES)):
            with psycopg.connect(services.databases[name]) as connection:
                after = follower_position(connection, name)
            page = httpx.get(
                f"{services.url('claims')}/feed",
                params={"after": after, "limit": 1, "types": sorted(types)},
                headers=headers,
            ).json()
            behind += len(page["items"])
        if not behind:
            return
        time.sleep(0.2)
    raise RuntimeError("the followers did not catch up with the claims feed")


def follower_position(connection: psycopg.Connection[Any], service: str) -> int:
    if service == "ledger":
        row = connection.execute(
            "SELECT max(notification_id) FROM ledger_tracking WHERE application_name = 'claims'"
        ).fetchone()
    else:
        row = connection.execute(
            "SELECT position FROM feed_positions WHERE upstream = 'claims'"
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per timed load")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    figures = run(args)
    print(f"\n{'figure':58} {'value':>12} {'unit':14} {'/baseline':>9}  target")
    for figure in figures:
        print(figure.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
