"""Long-polling: read now, and if there is nothing yet, read again until there is or the wait
is over (a caller that goes away ends the wait). Reads run in the thread pool, so a waiting
request holds no thread and never blocks the event loop. Given its store's
:class:`~shared.feed.signal.FeedSignal`, it reads again as soon as the store records
something (and otherwise at the signal's safety interval) instead of every 50 ms."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from shared.feed.signal import FeedSignal

T = TypeVar("T")


async def long_poll(
    request: Request,
    read: Callable[[], T],
    ready: Callable[[T], bool],
    wait_s: float,
    signal: FeedSignal | None = None,
) -> T:
    """``read()`` until ``ready`` says its answer will do, at most ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    signal = signal or FeedSignal(polled=True)
    while True:
        seen = signal.generation
        found = await run_in_threadpool(read)
        left = deadline - time.monotonic()
        if ready(found) or left <= 0 or await request.is_disconnected():
            return found
        await signal.wait_async(seen, min(signal.interval_s(), left))
