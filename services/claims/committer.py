"""Group commit for intake: concurrent requests share one store transaction.

Every event-store write on PostgreSQL takes the events table's lock until it commits (so that
feed positions commit in order), so writes are serial and each pays a commit. Under load, the
committer takes whatever requests are waiting (up to ``MAX_GROUP_EVENTS`` events) and records
them with one :meth:`ClaimsApplication.record_many`: one set of bulk reads, one derivation pass,
one insert, one commit. A request waits only for the group in front of it; nothing is delayed
on purpose to make groups bigger.

A group is all or nothing, so if it is refused (an invalid event, a reused event id, two
requests for the same event), each of its requests is then recorded on its own, and each gets
its own answer or its own error, exactly as without grouping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from services.claims.application import ClaimsApplication
from services.claims.commands import IntakeRequest, IntakeResult
from shared.errors import Busy
from shared.grouping import GroupWorker
from shared.tracing import current_traceparent, grouped

log = logging.getLogger(__name__)
MAX_GROUP_EVENTS = 1000
MAX_GROUP_REQUESTS = 256
MAX_WAITING = 4096
ANSWER_TIMEOUT_S = 120.0


class IntakeBusy(Busy):
    """More requests are waiting than the committer will queue (503: retry later)."""


@dataclass
class Waiting:
    request: IntakeRequest
    answer: Future[list[IntakeResult]] = field(default_factory=Future)
    # the request's trace, read in its own thread: the group commit continues it
    traceparent: str | None = field(default_factory=current_traceparent)


class IntakeCommitter(GroupWorker[Waiting]):
    def __init__(
        self, application: ClaimsApplication, observe: Callable[[int], None] = lambda _: None
    ) -> None:
        super().__init__(
            "intake-committer", MAX_WAITING, MAX_GROUP_REQUESTS, MAX_GROUP_EVENTS,
            lambda waiting: len(waiting.request.events),
        )  # fmt: skip
        self._application = application
        self._observe = observe  # told each group's size (requests), for the metrics
        self.start()
        self.groups = 0  # how many transactions; with ``requests``, shows the grouping
        self.requests = 0

    def record(self, request: IntakeRequest) -> list[IntakeResult]:
        """Record one request's events (in a group with others waiting); its own answer."""
        waiting = Waiting(request)
        if not self.offer(waiting):
            raise IntakeBusy(f"over {MAX_WAITING} intake requests are waiting")
        return waiting.answer.result(timeout=ANSWER_TIMEOUT_S)

    def handle(self, group: list[Waiting]) -> None:
        self.groups += 1
        self.requests += len(group)
        self._observe(len(group))
        try:
            with grouped([w.traceparent for w in group]):
                answers = self._application.intake.record_many([w.request for w in group])
        except Exception as exc:  # refused as a group: each request alone gets its own answer
            if len(group) == 1:
                group[0].answer.set_exception(exc)
                return
            for waiting in group:
                self._alone(waiting)
            return
        for waiting, answer in zip(group, answers, strict=True):
            waiting.answer.set_result(answer)

    def _alone(self, waiting: Waiting) -> None:
        try:
            with grouped([waiting.traceparent]):
                [answer] = self._application.intake.record_many([waiting.request])
        except Exception as exc:  # the request's own error, raised in its own thread
            waiting.answer.set_exception(exc)
        else:
            waiting.answer.set_result(answer)
