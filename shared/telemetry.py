"""Prometheus metrics of a service (``GET /metrics``, a service or admin token), with the
maintained client library (``prometheus-client``).

Each app has a registry of its own (several apps may share a process, as in the tests):
- ``outcomes_http_requests_total{method,route,status}`` and
  ``outcomes_http_request_duration_seconds{method,route}``: every request but the scrape and
  the health checks, by route template (``/v1/claims/{claim_id}``, never a raw path: ids
  would make a series each) or ``unmatched``;
- ``outcomes_follower_active``, ``…_position``, ``…_upstream_head`` (followers of another
  service), ``…_behind_seconds``, ``…_failing_seconds`` per follower (``{follower}``), and
  ``outcomes_follower_entries_total{follower,type}`` (the entries it applied by type: claims
  reaching each status on the claims service's index, postings on the ledger's), read at
  scrape time from the followers themselves (:class:`shared.feed.follower.FollowerHealth`),
  so a scrape never waits on the database;
- ``outcomes_intake_group_requests`` (claims): the requests recorded in each group commit;
  ``outcomes_import_jobs_ended_total{status}`` (claims) and
  ``outcomes_webhook_attempts_total{outcome}`` (ledger): what this replica's workers did;
- ``outcomes_claims{status}`` (claims): the claims of every contract by current status, as
  the claims index holds them, counted by a thread of each replica (:class:`Census`) every
  ``CLAIMS_CENSUS_INTERVAL_S``: the scrape reads the last count. Every replica reports the
  same store's figure: aggregate with ``max``, not ``sum``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as exposition
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Scope

from shared.asgi import AfterEach
from shared.background import WorkerState
from shared.feed.follower import Follower
from shared.tally import Tally

__all__ = ["CONTENT_TYPE_LATEST", "RequestMetrics", "Telemetry", "exposition"]

log = logging.getLogger(__name__)
UNTIMED = ("/metrics", "/healthz", "/readyz")
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "outcomes_http_requests", "HTTP requests answered",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "outcomes_http_request_duration_seconds", "Time to answer an HTTP request",
            ["method", "route"], buckets=LATENCY_BUCKETS_S, registry=self.registry,
        )  # fmt: skip
        self.group_requests = Histogram(
            "outcomes_intake_group_requests", "Intake requests recorded in one group commit",
            buckets=GROUP_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self._followers = _Followers()
        self.registry.register(self._followers)
        self._workers = _Workers()
        self.registry.register(self._workers)

    def tally(self, name: str, documentation: str, label: str, tally: Tally) -> None:
        """Report a worker's counts by key as the counter ``name`` (``_total``) by ``label``."""
        self.registry.register(_Tallied(name, documentation, label, tally))

    def watch(self, followers: Sequence[Follower]) -> None:
        """Report these followers (the ones this replica runs)."""
        self._followers.followers = list(followers)

    def watch_workers(self, workers: Sequence[WorkerState]) -> None:
        """Report these workers under leases (the ones this replica runs)."""
        self._workers.workers = list(workers)

    def census(
        self,
        name: str,
        documentation: str,
        label: str,
        count: Callable[[], Mapping[str, int]],
        every_s: float,
    ) -> Census:
        """A gauge ``name`` by ``label`` that a thread refreshes from ``count`` every
        ``every_s`` (start and stop it with the service)."""
        census = Census(name, documentation, label, count, every_s)
        self.registry.register(census)
        return census

    def exposition(self) -> bytes:
        return exposition(self.registry)


class Census(Collector):
    """Counts read from the database by a thread of its own, so that a scrape never waits
    on the database: before the first count, or while counting fails, it reports nothing
    (an absent series, which alerts can see) rather than an old figure."""

    def __init__(
        self, name: str, documentation: str, label: str,
        count: Callable[[], Mapping[str, int]], every_s: float,
    ) -> None:  # fmt: skip
        self._name, self._documentation, self._label = name, documentation, label
        self._count, self._every_s = count, every_s
        self._counts: dict[str, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"census-{name}", daemon=True)

    def refresh(self) -> None:
        try:
            self._counts = dict(self._count())
        except Exception:  # the store is away: say nothing rather than an old figure
            self._counts = None
            log.warning("counting %s failed", self._name, exc_info=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self._every_s)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def collect(self) -> Iterator[Metric]:
        counts = self._counts
        if counts is None:
            return
        family = GaugeMetricFamily(self._name, self._documentation, labels=[self._label])
        for key, number in sorted(counts.items()):
            family.add_metric([key], number)
        yield family


class _Tallied(Collector):
    def __init__(self, name: str, documentation: str, label: str, tally: Tally) -> None:
        self._name, self._documentation, self._label = name, documentation, label
        self._tally = tally

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=[self._label])
        for key, count in sorted(self._tally.snapshot().items()):
            family.add_metric([key], count)
        yield family


class _Workers(Collector):
    def __init__(self) -> None:
        self.workers: list[WorkerState] = []

    def collect(self) -> Iterator[Metric]:
        active = GaugeMetricFamily(
            "outcomes_worker_active",
            "1 while this replica holds the worker's lease (it works), 0 while it stands by",
            labels=["worker"],
        )
        failed = CounterMetricFamily(
            "outcomes_worker_failed_rounds", "Rounds of the worker that failed on this replica",
            labels=["worker"],
        )  # fmt: skip
        for worker in self.workers:
            active.add_metric([worker.name], 1 if worker.holding else 0)
            failed.add_metric([worker.name], worker.failed_rounds)
        yield active
        yield failed


class _Followers(Collector):
    def __init__(self) -> None:
        self.followers: list[Follower] = []

    def collect(self) -> Iterator[Metric]:
        now = time.monotonic()
        families = {
            "active": GaugeMetricFamily(
                "outcomes_follower_active",
                "1 while this replica holds the follower's lease, 0 while it stands by",
                labels=["follower"],
            ),
            "position": GaugeMetricFamily(
                "outcomes_follower_position",
                "The last upstream feed position this follower applied",
                labels=["follower"],
            ),
            "head": GaugeMetricFamily(
                "outcomes_follower_upstream_head",
                "The upstream feed's head position at the follower's last read (it counts "
                "records of every type, so head less position may stay above 0)",
                labels=["follower"],
            ),
            "behind": GaugeMetricFamily(
                "outcomes_follower_behind_seconds",
                "How long it has found entries it has not applied yet (0: caught up)",
                labels=["follower"],
            ),
            "failing": GaugeMetricFamily(
                "outcomes_follower_failing_seconds",
                "How long its reads or writes have been failing (0: they succeed)",
                labels=["follower"],
            ),
        }
        entries = CounterMetricFamily(
            "outcomes_follower_entries",
            "Feed entries this replica's follower applied, by entry type (claims by the status "
            "they reached, ledger postings, …)",
            labels=["follower", "type"],
        )
        for follower in self.followers:
            for entry_type, applied in sorted(follower.health.applied.snapshot().items()):
                entries.add_metric([follower.name, entry_type], applied)
            health, name = follower.health, [follower.name]
            families["active"].add_metric(name, 1 if health.state == "active" else 0)
            families["position"].add_metric(name, health.position)
            if health.upstream_head is not None:  # only a feed read over HTTP says it
                families["head"].add_metric(name, health.upstream_head)
            since = health.behind_since
            families["behind"].add_metric(name, 0 if since is None else now - since)
            since = health.failing_since
            families["failing"].add_metric(name, 0 if since is None else now - since)
        yield from families.values()
        yield entries


class RequestMetrics(AfterEach):
    """Counts and times every request by its route template (pure ASGI: the route is known
    once routing has run, in the scope it filled)."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        super().__init__(app)
        self.telemetry = telemetry

    def handles(self, scope: Scope) -> bool:
        return scope["path"] not in UNTIMED

    async def after(self, scope: Scope, status: int, elapsed_s: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"] if scope["method"] in _METHODS else "other"
        self.telemetry.requests.labels(method, route, str(status)).inc()
        self.telemetry.latency.labels(method, route).observe(elapsed_s)


_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
