"""Writes that meet concurrent writers: retried with growing, jittered pauses within a budget,
then a 503 with Retry-After (never a 500)."""

from __future__ import annotations

import asyncio

from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI

from shared.errors import OutcomesError
from shared.eventstore import CONFLICT_ATTEMPTS, WriteContention, retrying
from shared.problems import install_error_handlers


def test_a_write_that_wins_on_a_later_attempt_is_answered() -> None:
    attempts = []

    def write() -> str:
        attempts.append(1)
        if len(attempts) < 4:
            raise IntegrityError("another writer came first")
        return "written"

    assert retrying(write) == "written"
    assert len(attempts) == 4


def test_endless_contention_is_a_503_with_retry_after() -> None:
    attempts = []

    def write() -> str:
        attempts.append(1)
        raise IntegrityError("another writer came first")

    try:
        retrying(write)
    except WriteContention as exc:
        assert exc.status == 503
        contention = exc
    else:
        raise AssertionError("the contention was not reported")
    assert 2 <= len(attempts) <= CONFLICT_ATTEMPTS
    app = FastAPI()
    install_error_handlers(app)
    handler = app.exception_handlers[OutcomesError]
    response = asyncio.run(handler(None, contention))  # type: ignore[arg-type]
    assert (response.status_code, response.headers["retry-after"]) == (503, "1")
