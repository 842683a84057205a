"""The PostgreSQL event store's recorder, with its retries bounded in time.

The library retries each recorder operation ten times on a connection error, and each attempt
may wait the pool's whole timeout for a connection: with the database unreachable a request
waited about 50 s before failing. This recorder retries the same operations with tenacity
within ``OUTCOMES_DB_TIMEOUT_S`` (default 5 s) and then lets the error through, which the
services answer with 503 and ``Retry-After``. It is chosen with the library's own
``PROCESS_RECORDER_TOPIC`` setting (see :func:`shared.storeurls.eventsourcing_env`).

Every PostgreSQL connection the services open (the event store's pool, the read models' pool,
the followers' leases) is a :class:`DeadlineConnection`: it waits at most
``OUTCOMES_DB_QUERY_TIMEOUT_S`` (default 5 s) for the database to answer a statement, then closes
itself and raises ``OperationalError``. Keepalives and a TCP user timeout notice a network that
drops packets; they cannot notice a database, or a proxy before it, that accepts the bytes and
never answers, and without this deadline a request waited for it for ever.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any, ClassVar, TypeVar

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from psycopg.errors import _WaitTimeout
from psycopg.sql import SQL, Composed
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from shared.settings import DB_TIMEOUT_S
from shared.sidetables import insert_statement

T = TypeVar("T")
RETRY_PAUSE_S = 0.2


def budget_s() -> float:
    return float(os.environ.get("OUTCOMES_DB_TIMEOUT_S") or DB_TIMEOUT_S)


def query_timeout_s() -> float:
    """How long a statement may wait for the database's answer (0: no limit)."""
    return float(os.environ.get("OUTCOMES_DB_QUERY_TIMEOUT_S") or DB_TIMEOUT_S)


class DatabaseSilentError(psycopg.OperationalError):
    """The database did not answer a statement within the deadline; the connection is closed."""


_UNBOUNDED: ContextVar[bool] = ContextVar("outcomes_unbounded_statements", default=False)


@contextmanager
def unbounded_statements() -> Iterator[None]:
    """Statements run in this block wait for their answer without a deadline (migrations:
    building an index on a large table may rightly take minutes)."""
    token = _UNBOUNDED.set(True)
    try:
        yield
    finally:
        _UNBOUNDED.reset(token)


PROBE_S = 0.5  # a statement's deadline while its server is known to be silent
PROBE_CONNECT_S = 2  # and a connection's (libpq's least connect timeout)


class _Silence:
    """The servers (host, port) whose last statement went unanswered: until one answers
    again, statements sent to them wait :data:`PROBE_S` and connections
    :data:`PROBE_CONNECT_S`, so that an outage costs each request a probe instead of the
    whole deadline, and the first answer ends it."""

    def __init__(self) -> None:
        self._servers: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def began(self, server: tuple[str, str]) -> None:
        with self._lock:
            self._servers.add(server)

    def ended(self, server: tuple[str, str]) -> None:
        if server in self._servers:
            with self._lock:
                self._servers.discard(server)

    def __contains__(self, server: tuple[str, str]) -> bool:
        return server in self._servers


SILENCE = _Silence()


def _server_of(params: Any) -> tuple[str, str]:
    return (str(params.get("host", "")), str(params.get("port", "")))


class DeadlineConnection(psycopg.Connection[Any]):
    """A psycopg connection that gives up on a silent database (see the module's note)."""

    answer_timeout_s: ClassVar[float] = DB_TIMEOUT_S

    @classmethod
    def _get_connection_params(cls, conninfo: str, **kwargs: Any) -> Any:
        params = super()._get_connection_params(conninfo, **kwargs)
        if _server_of(params) in SILENCE:
            params["connect_timeout"] = PROBE_CONNECT_S
        return params

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:
        try:
            return super().connect(conninfo, **kwargs)
        except psycopg.errors.ConnectionTimeout:
            SILENCE.began(_server_of(cls._get_connection_params(conninfo, **kwargs)))
            raise

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        server = (str(self.info.host), str(self.info.port))
        heard: list[bool] = []
        if server in SILENCE:  # note whether the server is heard from (a rollback outside a
            gen = _noting_io(gen, heard)  # transaction, say, completes without a word)
        if timeout is None and self.answer_timeout_s > 0 and not _UNBOUNDED.get():
            timeout = PROBE_S if server in SILENCE else self.answer_timeout_s
        try:
            answer = super().wait(gen, interval, timeout)
        except _WaitTimeout as silent:
            SILENCE.began(server)
            self.close()  # a statement is in flight: the connection cannot be reused
            raise DatabaseSilentError(
                f"the database did not answer within {timeout:g} s; connection closed"
            ) from silent
        if heard:
            SILENCE.ended(server)
        return answer


def _noting_io(gen: Any, heard: list[bool]) -> Any:
    """``gen`` unchanged, noting in ``heard`` whether it waited on the socket at all."""
    try:
        state = next(gen)
    except StopIteration as done:
        return done.value
    heard.append(True)
    while True:
        ready = yield state
        try:
            state = gen.send(ready)
        except StopIteration as done:
            return done.value


@cache
def deadline_connection(seconds: float) -> type[DeadlineConnection]:
    """The connection class whose statements wait at most ``seconds`` (0: no limit)."""
    name = f"DeadlineConnection{seconds:g}s"
    return type(name, (DeadlineConnection,), {"answer_timeout_s": seconds})


def bounded(operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run the library's undecorated operation, retrying connection errors within the budget."""
    for attempt in Retrying(
        retry=retry_if_exception_type((InterfaceError, OperationalError)),
        stop=stop_after_delay(budget_s()),
        wait=wait_fixed(RETRY_PAUSE_S),
        reraise=True,
    ):
        with attempt:
            return operation(*args, **kwargs)
    raise AssertionError("unreachable: tenacity returns or raises")


def _unretried(function: Any) -> Callable[..., Any]:
    """The library's operation without its own retry decorator."""
    return getattr(function, "__wrapped__", function)  # type: ignore[no-any-return]


class BoundedProcessRecorder(PostgresProcessRecorder):
    """Every operation the library retries, retried within the time budget instead; and the
    library's insert statement with its array of events sent in binary: the text form
    escapes every byte of every event's state with a regular expression (measured: 2,000
    events inserted in 23-26 ms against 77-119 ms)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        statement = self.insert_events_statement.as_string()
        assert statement.count("unnest(%s::") == 1, "the library's insert statement changed"
        binary = statement.replace("unnest(%s::", "unnest(%b::")
        self.insert_events_statement = Composed([SQL(binary)])

    def insert_events(self, *args: Any, **kwargs: Any) -> Any:
        return bounded(_unretried(PostgresApplicationRecorder.insert_events), self, *args, **kwargs)

    def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        """Side rows (shared/sidetables.py) first, in the events' transaction."""
        for side in kwargs.get("side_rows", ()):
            table = f'"{self.datastore.schema}"."{side.table}"'
            curs.executemany(insert_statement(side, table, "%s"), side.rows)
        super()._insert_events(curs, stored_events, **kwargs)

    def select_events(self, *args: Any, **kwargs: Any) -> Any:
        return bounded(_unretried(PostgresAggregateRecorder.select_events), self, *args, **kwargs)

    def select_notifications(self, *args: Any, **kwargs: Any) -> Any:
        operation = _unretried(PostgresApplicationRecorder.select_notifications)
        return bounded(operation, self, *args, **kwargs)

    def max_notification_id(self) -> Any:
        return bounded(_unretried(PostgresApplicationRecorder.max_notification_id), self)

    def insert_tracking(self, *args: Any, **kwargs: Any) -> Any:
        return bounded(_unretried(PostgresTrackingRecorder.insert_tracking), self, *args, **kwargs)

    def max_tracking_id(self, *args: Any, **kwargs: Any) -> Any:
        operation = _unretried(PostgresTrackingRecorder.max_tracking_id)
        return bounded(operation, self, *args, **kwargs)

    def has_tracking_id(self, *args: Any, **kwargs: Any) -> Any:
        operation = _unretried(PostgresTrackingRecorder.has_tracking_id)
        return bounded(operation, self, *args, **kwargs)
