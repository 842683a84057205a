"""Issue 20, point 5: a feed's long-polls are woken when its store records something (in
process, and on PostgreSQL by LISTEN/NOTIFY from any replica) instead of re-reading every 50 ms;
a recording between a waiter's read and its wait is never missed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from services.claims.application import ClaimsApplication
from shared.feed.signal import SAFETY_POLL_S, FeedSignal
from tests.claims.helpers import claims_app, ips_rulebook
from tests.stores import postgres_databases, require_postgres


def test_a_waiter_wakes_when_told_and_not_before() -> None:
    signal = FeedSignal()
    seen = signal.generation
    assert signal.wait(seen, 0.05) is False  # nothing recorded: it waits the time out
    threading.Timer(0.05, signal.notify).start()
    started = time.monotonic()
    assert signal.wait(seen, 5.0) is True
    assert time.monotonic() - started < 1.0


def test_a_recording_between_the_read_and_the_wait_is_not_missed() -> None:
    signal = FeedSignal()
    seen = signal.generation  # noted before reading
    signal.notify()  # recorded while the waiter was reading
    started = time.monotonic()
    assert signal.wait(seen, 5.0) is True
    assert asyncio.run(signal.wait_async(seen, 5.0)) is True
    assert time.monotonic() - started < 0.5


async def test_coroutines_wait_without_holding_the_event_loop() -> None:
    signal = FeedSignal()
    seen = signal.generation
    waiters = [asyncio.create_task(signal.wait_async(seen, 5.0)) for _ in range(3)]
    ticks = 0
    while ticks < 5:  # the loop runs meanwhile
        await asyncio.sleep(0.01)
        ticks += 1
    threading.Thread(target=signal.notify).start()  # from another thread, as a save does
    assert await asyncio.wait_for(asyncio.gather(*waiters), 5.0) == [True, True, True]
    assert await signal.wait_async(signal.generation, 0.05) is False


def test_closing_wakes_whoever_waits() -> None:
    signal = FeedSignal()
    seen = signal.generation
    threading.Timer(0.05, signal.close).start()
    assert signal.wait(seen, 5.0) is True


@pytest.fixture
def two_replicas() -> Iterator[tuple[ClaimsApplication, ClaimsApplication]]:
    """Two claims applications on one PostgreSQL store, as two replicas would be."""
    require_postgres()
    with postgres_databases() as urls:
        first = claims_app(urls["claims"])
        second = claims_app(urls["claims"])
        try:
            yield first, second
        finally:
            first.close()
            second.close()


def test_another_replicas_recording_wakes_a_waiter_by_notify(
    two_replicas: tuple[ClaimsApplication, ClaimsApplication],
) -> None:
    writer, reader = two_replicas
    signal = reader.feed_signal
    assert signal is not None
    signal.interval_s()  # a long-poll starts the listener
    deadline = time.monotonic() + 10
    while not signal.live:
        assert time.monotonic() < deadline, "the listener did not connect"
        time.sleep(0.01)
    seen = signal.generation
    woken: list[float] = []

    def wait() -> None:
        started = time.monotonic()
        if signal.wait(seen, 5.0):
            woken.append(time.monotonic() - started)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.05)  # the waiter is waiting
    writer.contracts.register(ips_rulebook())  # recorded by the other replica
    waiter.join(10)
    assert woken and woken[0] < SAFETY_POLL_S, woken  # told, not found by the safety read
