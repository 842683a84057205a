"""Waking a feed's long-polls when its store records something, instead of re-reading the store
every 50 ms.

Each application has a :class:`FeedSignal`. It is raised by the application itself after each
transaction that recorded events (in process: SQLite, and the replica that wrote), and on
PostgreSQL also by a listener thread for every transaction of any replica: the event-sourcing
library sends ``NOTIFY <events table>`` in each insert's transaction (delivered on commit), and
:class:`Listener` holds a ``LISTEN`` on a connection of its own, started by the first
long-poll that waits (a process that never long-polls opens none).

A waiter notes :attr:`FeedSignal.generation` before it reads, and waits for it to change, so a
recording between its read and its wait is never missed. It still reads again every
:data:`SAFETY_POLL_S` while the signal is live (a notification lost with a connection costs at
most that), and every :data:`POLL_INTERVAL_S` while a listener should run but is not connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)
POLL_INTERVAL_S = 0.05  # how often a waiter reads while nothing tells it of new entries
SAFETY_POLL_S = 0.5  # how often it reads while it is told
CONNECT_TIMEOUT_S = 2
RECONNECT_MAX_S = 10.0


class FeedSignal:
    """A generation counter that waiters, threads or coroutines, wait to see change."""

    def __init__(
        self, listener: Callable[[FeedSignal], Listener] | None = None, polled: bool = False
    ) -> None:
        """``polled``: nothing raises it (a reader without its store's signal), so its waiters
        read every :data:`POLL_INTERVAL_S`; it still wakes them for :meth:`notify`."""
        self._condition = threading.Condition()
        self._generation = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        self._make_listener = listener
        self._listener: Listener | None = None
        self._closed = False
        self.live = listener is None and not polled  # in process alone, nothing else records

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self) -> None:
        """Something was recorded: wake every waiter."""
        with self._condition:
            self._generation += 1
            self._condition.notify_all()
            waiters, self._waiters = self._waiters, set()
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # its loop has closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future)

    def interval_s(self) -> float:
        """The longest a waiter should wait before it reads again anyway."""
        self._listen()
        return SAFETY_POLL_S if self.live else POLL_INTERVAL_S

    def wait(self, seen: int, timeout_s: float) -> bool:
        """Block until the generation is no longer ``seen`` (True) or ``timeout_s`` passes."""
        with self._condition:
            return self._condition.wait_for(lambda: self._generation != seen, timeout_s)

    async def wait_async(self, seen: int, timeout_s: float) -> bool:
        """:meth:`wait` for a coroutine: the event loop goes on meanwhile."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._condition:
            if self._generation != seen:
                return True
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(future, timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            with self._condition:
                self._waiters.discard(entry)

    def _listen(self) -> None:
        if self._make_listener is None or self._listener is not None or self._closed:
            return
        with self._condition:
            if self._listener is None and not self._closed:
                self._listener = self._make_listener(self)
                self._listener.start()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
        self.notify()  # whoever waits reads once more and ends


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Listener:
    """``LISTEN`` on a PostgreSQL channel in a thread of its own, raising the signal for each
    notification; reconnects (with a growing pause) when the connection is lost."""

    def __init__(self, dsn: str, channel: str, signal: FeedSignal) -> None:
        self._dsn, self._channel, self._signal = dsn, channel, signal
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"listen-{channel}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        pause = POLL_INTERVAL_S
        while not self._stop.is_set():
            try:
                self._listen_until_stopped()
                pause = POLL_INTERVAL_S
            except psycopg.Error as exc:
                self._signal.live = False
                log.warning("feed listener %s: %s; waiters poll meanwhile", self._channel, exc)
                pause = min(max(pause * 2, 0.5), RECONNECT_MAX_S)
                self._stop.wait(pause)

    def _listen_until_stopped(self) -> None:
        with psycopg.connect(
            self._dsn,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=f"outcomes feed listener pid {os.getpid()}"[:63],
        ) as connection:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self._signal.live = True
            self._signal.notify()  # what was recorded while it was not listening
            while not self._stop.is_set():
                for _ in connection.notifies(timeout=0.25, stop_after=1):
                    self._signal.notify()
        self._signal.live = False
