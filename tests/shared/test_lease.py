"""Follower leases: one holder per name and store; the next replica takes over on release."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from shared.feed.envelope import FeedEntry
from shared.feed.follower import Follower
from shared.feed.lease import lease_for, lease_key


def test_one_holder_per_name_and_takeover_on_release(urls: dict[str, str]) -> None:
    url = urls["ledger"]
    first, second = lease_for(url, "ledger<-claims"), lease_for(url, "ledger<-claims")
    other = lease_for(url, "ledger-index")
    try:
        assert first.hold()
        assert first.hold()  # holding again is a check, not a second lock
        assert not second.hold()
        assert other.hold()  # another follower's lease is independent
        first.release()
        assert second.hold()
        assert not first.hold()
    finally:
        for lease in (first, second, other):
            lease.release()


def test_lease_keys_are_stable_and_distinct() -> None:
    assert lease_key("ledger<-claims") == lease_key("ledger<-claims")
    assert lease_key("ledger<-claims") != lease_key("metrics<-claims")
    assert -(2**63) <= lease_key("x") < 2**63


class ListSource:
    def __init__(self, count: int) -> None:
        self.entries = [
            FeedEntry(
                position=i,
                type="t",
                schema_version=1,
                stream_id="s",
                stream_version=i,
                recorded_at="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
                data={},
            )
            for i in range(1, count + 1)
        ]

    def read(self, after: int, limit: int, wait_s: float) -> list[FeedEntry]:
        found = [e for e in self.entries if e.position > after][:limit]
        if not found:
            time.sleep(min(wait_s, 0.01))
        return found


class CountingSink:
    """Shared by two followers, like one database under two replicas."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, int]] = []
        self.at = 0
        self.lock = threading.Lock()

    def position(self) -> int:
        return self.at

    def apply(self, entries: list[FeedEntry]) -> None:
        with self.lock:
            self.applied.extend((threading.current_thread().name, e.position) for e in entries)
            self.at = entries[-1].position


def test_only_the_lease_holder_applies_pages(urls: dict[str, str]) -> None:
    url = urls["metrics"]
    sink = CountingSink()
    source = ListSource(50)
    replicas = [
        Follower(
            f"replica-{n}",
            source,
            sink,
            page_size=5,
            long_poll_s=0.01,
            lease=lease_for(url, "metrics<-claims"),
            standby_s=0.01,
        )
        for n in (1, 2)
    ]
    for replica in replicas:
        replica.start()
    try:
        deadline = time.monotonic() + 10
        while sink.at < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sink.at == 50
        assert [p for _, p in sink.applied] == list(range(1, 51))
        [active] = {name for name, _ in sink.applied}
        # the holder stops: the other replica takes over and goes on from the stored position
        holder = next(r for r in replicas if f"follower-{r.name}" == active)
        holder.stop()
        source.entries.extend(ListSource(60).entries[50:])
        deadline = time.monotonic() + 10
        while sink.at < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [p for _, p in sink.applied] == list(range(1, 61))
        [standby] = [r for r in replicas if r is not holder]
        assert {name for name, p in sink.applied if p > 50} == {f"follower-{standby.name}"}
    finally:
        for replica in replicas:
            replica.stop()


def test_a_lease_is_released_when_its_holder_dies(urls: dict[str, str]) -> None:
    """A crashed holder leaves no stale lease: the kernel drops the flock, PostgreSQL ends
    the session and its advisory locks."""
    url = urls["claims"]
    code = (
        "import os, sys; from shared.feed.lease import lease_for;"
        f"assert lease_for({url!r}, 'claims-index').hold(); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    lease = lease_for(url, "claims-index")
    try:
        assert lease.hold()
    finally:
        lease.release()
