"""Followers: pull a feed page by page and apply each page exactly once.

A follower reads from a :class:`FeedSource` (another service over HTTP, or its own store) and
hands each page to a :class:`FeedSink`, which applies the page's effects and stores the page's
last position *in the same transaction*. A crash at any point therefore neither loses nor
duplicates an effect: on restart the sink says where it got to and the follower resumes there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from shared.feed.envelope import MAX_PAGE_SIZE, FeedEntry, FeedPage
from shared.feed.lease import Lease
from shared.feed.signal import FeedSignal
from shared.tally import Tally
from shared.tracing import applying

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 30.0
LONG_POLL_S = 2.0
MAX_BACKOFF_S = 2.0  # the longest a follower lags an upstream that has come back
PROGRESS_EVERY_S = 60.0  # a follower says where it is in the log this often, at most
STANDBY_S = 1.0


class FeedSource(Protocol):
    def read(self, after: int, limit: int, wait_s: float) -> list[FeedEntry]: ...


class FeedSink(Protocol):
    def position(self) -> int:
        """The last position whose effects are stored (0 before the first)."""
        ...

    def apply(self, entries: list[FeedEntry]) -> None:
        """Apply the entries' effects and store ``entries[-1].position``, atomically."""
        ...


class CountingSink:
    """A sink that counts each page's entries by ``key`` once the page is applied (so a page
    that failed and is read again is counted once); a key of ``None`` is not counted."""

    def __init__(
        self, sink: FeedSink, key: Callable[[FeedEntry], str | None], tally: Tally
    ) -> None:
        self._sink, self._key, self.tally = sink, key, tally

    def position(self) -> int:
        return self._sink.position()

    def apply(self, entries: list[FeedEntry]) -> None:
        self._sink.apply(entries)
        self.tally.update(key for entry in entries if (key := self._key(entry)) is not None)


class HttpFeedSource:
    """Reads another service's ``GET /feed`` with a service token; with ``types``, only the
    entry types the reader applies (the others are skipped in the upstream's store)."""

    def __init__(
        self, base_url: str, token: Callable[[], str], types: Collection[str] | None = None
    ) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT_S + LONG_POLL_S)
        self._token = token
        self._types = sorted(types) if types is not None else None
        self.last_head: int | None = None  # the upstream's head position at the last read

    def read(self, after: int, limit: int, wait_s: float) -> list[FeedEntry]:
        return self.read_page(after, limit, wait_s).items

    def read_page(self, after: int, limit: int, wait_s: float = 0.0) -> FeedPage:
        response = self._client.get(
            "/feed",
            params={
                "after": after,
                "limit": min(limit, MAX_PAGE_SIZE),
                "wait_s": wait_s,
                **({"types": self._types} if self._types is not None else {}),
            },
            headers={"Authorization": f"Bearer {self._token()}"},
        )
        response.raise_for_status()
        page = FeedPage.model_validate_json(response.content)
        self.last_head = page.head_position
        return page

    def close(self) -> None:
        self._client.close()


class LocalFeedSource:
    """Reads a service's own feed straight from its store (for its own read models)."""

    def __init__(
        self, reader: Callable[[int, int], list[FeedEntry]], signal: FeedSignal | None = None
    ) -> None:
        self._reader = reader
        self._closing = threading.Event()
        self._signal = signal or FeedSignal(polled=True)

    def read(self, after: int, limit: int, wait_s: float) -> list[FeedEntry]:
        deadline = time.monotonic() + wait_s
        signal = self._signal
        while True:
            seen = signal.generation
            items = self._reader(after, limit)
            left = deadline - time.monotonic()
            if items or left <= 0 or self._closing.is_set():
                return items
            signal.wait(seen, min(signal.interval_s(), left))
            if self._closing.is_set():  # a stopping follower does not wait out its poll
                return []

    def interrupt(self) -> None:
        """End a long-poll in progress (and any later one) at once."""
        self._closing.set()
        self._signal.notify()

    def close(self) -> None:
        self.interrupt()


@dataclass
class FollowerHealth:
    """What a follower last knew of itself, for readiness (moments are ``time.monotonic()``).
    A standing-by replica probes the upstream for entries past the stored position, so it
    knows whether the replica holding the lease keeps up."""

    state: str = "starting"  # then "active" or "standing by"
    position: int = 0  # the last upstream position applied (by this replica)
    upstream_head: int | None = None  # the upstream's head at the last read, when it says
    behind_since: float | None = None  # when it last found entries it had not applied
    failing_since: float | None = None  # when its reads or writes began to fail
    error: str = ""
    applied: Tally = field(default_factory=Tally)  # entries applied, by type

    def verdict(self, now: float, max_lag_s: float) -> tuple[bool, str]:
        """(ready, what to say) with ``max_lag_s`` allowed behind or failing."""
        if self.failing_since is not None and now - self.failing_since > max_lag_s:
            return False, f"failing for {now - self.failing_since:.0f} s: {self.error}"
        if self.behind_since is not None and now - self.behind_since > max_lag_s:
            return False, f"{self.state}, behind its upstream for {now - self.behind_since:.0f} s"
        return True, f"{self.state}, {'behind' if self.behind_since is not None else 'caught up'}"

    def succeeded(self, behind: bool) -> None:
        self.failing_since, self.error = None, ""
        self.behind_since = (self.behind_since or time.monotonic()) if behind else None

    def failed(self, error: Exception) -> None:
        self.failing_since = self.failing_since or time.monotonic()
        self.error = f"{type(error).__name__}: {error}"[:300]


class Follower:
    """Runs one source → sink loop on a daemon thread until stopped.

    With a :class:`Lease`, the loop applies pages only while it holds the lease, and otherwise
    stands by, trying again every ``standby_s``: of all the replicas running this follower,
    one is active at a time.
    """

    def __init__(
        self,
        name: str,
        source: FeedSource,
        sink: FeedSink,
        *,
        page_size: int = 500,
        long_poll_s: float = LONG_POLL_S,
        lease: Lease | None = None,
        standby_s: float = STANDBY_S,
    ) -> None:
        self.name = name
        self._source = source
        self._sink = sink
        self._page_size = page_size
        self._long_poll_s = long_poll_s
        self._lease = lease
        self._standby_s = standby_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.health = FollowerHealth()
        self._probed_position = -1
        self._applied_since = 0
        self._reported_at = time.monotonic()

    def run_once(self, wait_s: float = 0.0) -> int:
        """Apply at most one page; returns how many entries it applied."""
        entries = self._source.read(self._sink.position(), self._page_size, wait_s)
        self.health.upstream_head = getattr(self._source, "last_head", None)
        if entries:
            with applying(self.name, entries):
                self._sink.apply(entries)
            self.health.applied.update(entry.type for entry in entries)
            self.health.position = entries[-1].position
        return len(entries)

    def catch_up(self) -> int:
        """Apply pages until the source has nothing new (used by tests and rebuilds)."""
        total = 0
        while applied := self.run_once():
            total += applied
        return total

    def _loop(self) -> None:
        backoff_s = 0.1
        while not self._stop.is_set():
            if self._lease is not None and not self._lease.hold():
                self.health.state = "standing by"
                self._probe()
                self._stop.wait(self._standby_s)
                continue
            self.health.state = "active"
            try:
                applied = self.run_once(wait_s=self._long_poll_s)
                self.health.succeeded(behind=applied >= self._page_size)
                self._report(applied)
                backoff_s = 0.1
            except httpx.TransportError as exc:
                self.health.failed(exc)
                log.warning("follower %s: upstream unreachable (%s); retrying", self.name, exc)
                self._stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)
            except Exception as exc:  # a follower must outlive a failing upstream; it retries
                self.health.failed(exc)
                log.exception("follower %s failed; retrying in %.1fs", self.name, backoff_s)
                self._stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)

    def _report(self, applied: int) -> None:
        """Progress in the log at most once a minute, busy or idle."""
        self._applied_since += applied
        now = time.monotonic()
        if now - self._reported_at < PROGRESS_EVERY_S:
            return
        log.info(
            "follower %s: at position %d, %d entries applied in the last %.0f s (upstream head %s)",
            self.name, self.health.position, self._applied_since, now - self._reported_at,
            self.health.upstream_head,
        )  # fmt: skip
        self._applied_since, self._reported_at = 0, now

    def _probe(self) -> None:
        """Standing by: is the holder behind (entries wait past a stored position that has
        not moved since the last probe)?"""
        try:
            position = self._sink.position()
            pending = self._source.read(position, 1, 0.0)
        except Exception as exc:  # noted for readiness; the holder may well be fine
            self.health.failed(exc)
            return
        stuck = bool(pending) and position == self._probed_position
        self._probed_position = position
        self.health.succeeded(behind=stuck)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name=f"follower-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        interrupt = getattr(self._source, "interrupt", None)
        if interrupt is not None:
            interrupt()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._lease is not None:
            self._lease.release()
        close = getattr(self._source, "close", None)
        if close is not None:
            close()
