"""The PostgreSQL event store's recorder, with its retries bounded in time.

The library retries each recorder operation ten times on a connection error, and each attempt
may wait the pool's whole timeout for a connection: with the database unreachable a request
waited about 50 s before failing. This recorder retries the same operations with tenacity
within ``OUTCOMES_DB_TIMEOUT_S`` (default 5 s) and then lets the error through, which the
services answer with 503 and ``Retry-After``. It is chosen with the library's own
``PROCESS_RECORDER_TOPIC`` setting (see :func:`shared.eventstore.eventsourcing_env`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from shared.settings import DB_TIMEOUT_S

T = TypeVar("T")
RETRY_PAUSE_S = 0.2


def budget_s() -> float:
    return float(os.environ.get("OUTCOMES_DB_TIMEOUT_S") or DB_TIMEOUT_S)


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
    """Every operation the library retries, retried within the time budget instead."""

    def insert_events(self, *args: Any, **kwargs: Any) -> Any:
        return bounded(_unretried(PostgresApplicationRecorder.insert_events), self, *args, **kwargs)

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
