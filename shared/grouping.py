"""Group commit: a thread that takes what is waiting and hands it over in groups.

Each group is the first item waiting, then whatever else is already queued, up to a number of
items and a total weight: nothing is held back to make a group bigger, so under no load every
item is a group of one and under load many share one transaction. ``close`` hands over what is
queued, then stops the thread. Used by intake (a group of requests in one store transaction,
``services/claims/committer.py``) and the access trail (a group of rows, ``shared/trail.py``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
CLOSE_TIMEOUT_S = 30.0


class GroupWorker(Generic[T]):
    def __init__(
        self,
        name: str,
        max_waiting: int,
        max_items: int,
        max_weight: int | None = None,
        weight: Callable[[T], int] = lambda _: 1,
    ) -> None:
        self._name = name
        self._queue: queue.Queue[T | None] = queue.Queue(max_waiting)
        self._max_items = max_items
        self._max_weight = max_weight if max_weight is not None else max_items
        self._weight = weight
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def handle(self, group: list[T]) -> None:
        """Take one group (never empty); runs on the worker's thread."""
        raise NotImplementedError

    def offer(self, item: T) -> bool:
        """Queue an item, starting the thread if it is not running; False if the queue is full."""
        self.start()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def start(self) -> None:
        if self._thread is None:
            with self._starting:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                    self._thread.start()

    def close(self) -> None:
        """Hand over what is queued, then stop."""
        with self._starting:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(CLOSE_TIMEOUT_S)

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            group, weight, stopping = [first], self._weight(first), False
            while weight < self._max_weight and len(group) < self._max_items:
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    break
                if following is None:
                    stopping = True
                    break
                if weight + self._weight(following) > self._max_weight:
                    self.handle(group)
                    group, weight = [], 0
                group.append(following)
                weight += self._weight(following)
            self.handle(group)
            if stopping:
                return
