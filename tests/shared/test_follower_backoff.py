"""A follower whose upstream is down retries with a bounded back-off, so it catches up within
``MAX_BACKOFF_S`` of the upstream coming back (the system tests' lag budget relies on it)."""

from __future__ import annotations

import logging
import threading

import httpx
import pytest

from shared.feed import follower as follower_module
from shared.feed.envelope import FeedEntry
from shared.feed.follower import MAX_BACKOFF_S, Follower, LocalFeedSource


class _DownThenUp:
    def __init__(self, failures: int) -> None:
        self.failures = failures

    def read(self, after: int, limit: int, wait_s: float) -> list[FeedEntry]:
        if self.failures > 0:
            self.failures -= 1
            raise httpx.ConnectError("connection refused")
        return []


class _Sink:
    def position(self) -> int:
        return 0

    def apply(self, entries: list[FeedEntry]) -> None:
        raise AssertionError("nothing to apply")


class _RecordingStop(threading.Event):
    """Records each back-off the loop asks for instead of sleeping; stops once the source
    answers (the loop's first successful read)."""

    def __init__(self, source: _DownThenUp) -> None:
        super().__init__()
        self.source = source
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        return False

    def is_set(self) -> bool:
        return self.source.failures == 0 and len(self.waits) > 0


def test_back_off_doubles_from_a_tenth_of_a_second_and_stops_at_the_bound() -> None:
    source = _DownThenUp(failures=12)
    follower = Follower("test", source, _Sink(), long_poll_s=0.0)
    stop = _RecordingStop(source)
    follower._stop = stop
    follower._loop()
    assert len(stop.waits) == 12
    assert stop.waits[:5] == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert max(stop.waits) == MAX_BACKOFF_S <= 2.0
    assert stop.waits[-1] == MAX_BACKOFF_S


def test_stopping_ends_a_local_long_poll_at_once() -> None:
    """A follower long-polling its own empty feed stops when asked, not when its poll would
    have ended (every test app and every shut-down paid for that wait before)."""
    reads = threading.Event()

    def reader(after: int, limit: int) -> list[FeedEntry]:
        reads.set()
        return []

    follower = Follower("idle", LocalFeedSource(reader), _Sink(), long_poll_s=600.0)
    follower.start()
    assert reads.wait(10), "the follower never read"
    stopped = threading.Thread(target=follower.stop, kwargs={"timeout_s": 60.0})
    stopped.start()
    stopped.join(5)  # within the bound, where the poll alone would hold it for ten minutes
    assert not stopped.is_alive(), "stop waited out the long-poll"


def test_progress_is_logged_at_most_once_a_minute(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    monkeypatch.setattr(follower_module.time, "monotonic", lambda: now[0])
    follower = Follower("test", _DownThenUp(failures=0), _Sink(), long_poll_s=0.0)
    caplog.set_level(logging.INFO, logger=follower_module.__name__)
    for _ in range(600):  # ten minutes of long-polls every second, two entries each
        now[0] += 1.0
        follower._report(2)
    said = [r.getMessage() for r in caplog.records if "at position" in r.getMessage()]
    assert len(said) == 10
    assert all("120 entries applied in the last 60 s" in line for line in said)
    follower._report(0)  # idle: nothing more until the minute has passed
    assert len([r for r in caplog.records if "at position" in r.getMessage()]) == 10
