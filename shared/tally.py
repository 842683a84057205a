"""Counts by key that one thread adds to and another reads (what ``/metrics`` reports of a
worker), with no metrics library in the code that counts."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable


class Tally:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def update(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._counts.update(keys)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
