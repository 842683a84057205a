"""Keeping the cyclic garbage collector from pausing every thread while large documents are
built: a rule book of a megabyte is hundreds of thousands of young objects, and each collection
of the older generations stops the event loop too (health checks waited over 100 ms)."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

YOUNG_THRESHOLD = 50_000  # allocations between collections of the youngest generation
OLDEST_DEFERRED = 1_000_000  # no full collection while inside (the oldest generation waits)

_collections_lock = threading.Lock()
_readers = 0
_thresholds = gc.get_threshold()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """While any caller is inside, the collector runs on the youngest generation only every
    ``YOUNG_THRESHOLD`` allocations and never on the oldest (a full collection scans the
    whole heap); reference counting still frees what is not cyclic. The thresholds come back
    when the last caller leaves. Safe across threads."""
    global _readers, _thresholds
    with _collections_lock:
        if _readers == 0:
            _thresholds = gc.get_threshold()
            gc.set_threshold(YOUNG_THRESHOLD, _thresholds[1], OLDEST_DEFERRED)
        _readers += 1
    try:
        yield
    finally:
        with _collections_lock:
            _readers -= 1
            if _readers == 0:
                gc.set_threshold(*_thresholds)
