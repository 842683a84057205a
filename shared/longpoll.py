"""Long-polling: read now, and if there is nothing yet, read again until there is or the wait
is over (a caller that goes away ends the wait). Reads run in the thread pool, so a waiting
request holds no thread and never blocks the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

T = TypeVar("T")
POLL_INTERVAL_S = 0.05


async def long_poll(
    request: Request,
    read: Callable[[], T],
    ready: Callable[[T], bool],
    wait_s: float,
    interval_s: float = POLL_INTERVAL_S,
) -> T:
    """``read()`` until ``ready`` says its answer will do, at most ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        found = await run_in_threadpool(read)
        if ready(found) or time.monotonic() >= deadline or await request.is_disconnected():
            return found
        await asyncio.sleep(interval_s)
