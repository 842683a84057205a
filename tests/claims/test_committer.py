"""Group commit: requests waiting together are recorded in one transaction, and a refused group
falls back to one transaction per request, so every request gets exactly its own answer."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from services.claims.application import ClaimsApplication
from services.claims.commands import IncomingEvent, IntakeRequest
from services.claims.committer import IntakeCommitter
from services.claims.errors import EventRejected
from tests.claims.helpers import OTHER_PROVIDER, PROVIDER

CONTRACT = "ips-employment"


def referral(ref: str, event_id: str | None = None) -> IncomingEvent:
    return IncomingEvent(event_id or f"ev-{ref}", ref, "referral", dt.date(2026, 3, 2), {})


def enrollment(ref: str) -> IncomingEvent:
    return IncomingEvent(f"en-{ref}", ref, "enrollment", dt.date(2026, 3, 9), {})


class HeldCommitter:
    """A committer whose first transaction waits for ``release``, so that the requests sent
    meanwhile are all waiting when it ends: they form the second group."""

    def __init__(self, application: ClaimsApplication) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        original = application.intake.record_many
        calls = {"n": 0}

        def held(requests: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 1:
                self.started.set()
                assert self.gate.wait(30)
            return original(requests)

        application.intake.record_many = held  # type: ignore[method-assign]
        self.committer = IntakeCommitter(application)
        self.pool = ThreadPoolExecutor(max_workers=32)

    def send(self, provider: str, *events: IncomingEvent) -> Future[Any]:
        request = IntakeRequest(CONTRACT, provider, list(events), "t")
        return self.pool.submit(self.committer.record, request)

    def close(self) -> None:
        self.pool.shutdown()
        self.committer.close()


@pytest.fixture
def held(claims: ClaimsApplication) -> Iterator[HeldCommitter]:
    held = HeldCommitter(claims)
    yield held
    held.close()


def wait_queued(held: HeldCommitter, count: int) -> None:
    for _ in range(600):
        if held.committer._queue.qsize() >= count:
            return
        threading.Event().wait(0.01)
    raise AssertionError("requests did not queue")


def test_waiting_requests_share_one_transaction(
    held: HeldCommitter, claims: ClaimsApplication
) -> None:
    first = held.send(PROVIDER, referral("p0"))
    assert held.started.wait(10)
    # ten requests of two providers, one with two events for the same new participant
    waiting = [held.send(PROVIDER, referral(f"p{i}")) for i in range(1, 9)]
    waiting.append(held.send(OTHER_PROVIDER, referral("q1")))
    waiting.append(held.send(PROVIDER, referral("p9"), enrollment("p9")))
    wait_queued(held, len(waiting))
    head = claims.head_position()
    held.gate.set()
    [answer] = first.result(10)
    answers = [f.result(10) for f in waiting]
    assert held.committer.groups == 2 and held.committer.requests == 11
    assert answer.created and answer.position > head
    flat = [r for a in answers for r in a]
    assert [r.event_id for r in flat] == [f"ev-p{i}" for i in range(1, 9)] + [
        "ev-q1", "ev-p9", "en-p9"
    ]  # fmt: skip
    assert all(r.created for r in flat)
    assert len({r.position for r in flat}) == len(flat)
    # each answer is what the store holds: its participant, its position, its claims
    [engagement] = answers[-1][1].claim_ids
    participant = claims.reader.participant(CONTRACT, answers[-1][1].participant_id)
    assert [e["event_id"] for e in participant.events] == ["ev-p9", "en-p9"]
    assert claims.reader.claim(uuid.UUID(engagement)).outcome_id == "engagement"
    other = claims.reader.participant(CONTRACT, answers[8][0].participant_id)
    assert other.provider_id == OTHER_PROVIDER


def test_a_refused_request_does_not_sink_its_group(
    held: HeldCommitter, claims: ClaimsApplication
) -> None:
    first = held.send(PROVIDER, referral("r0"))
    assert held.started.wait(10)
    good = [held.send(PROVIDER, referral(f"r{i}")) for i in range(1, 5)]
    bad = held.send(PROVIDER, IncomingEvent("bad-1", "r9", "no_such_type", dt.date(2026, 3, 2), {}))
    twice = [held.send(PROVIDER, referral("r7", "same-id")) for _ in range(2)]
    wait_queued(held, 7)
    held.gate.set()
    first.result(10)
    assert all(f.result(10)[0].created for f in good)
    with pytest.raises(EventRejected):
        bad.result(10)
    # the same event twice in one group: recorded once, the other answered as a replay
    [a], [b] = (f.result(10) for f in twice)
    assert {a.created, b.created} == {True, False}
    assert a.position == b.position and a.participant_id == b.participant_id
    assert held.committer.groups == 2  # the refused group was then recorded request by request
    refs = {
        claims.reader.participant(CONTRACT, f.result()[0].participant_id).participant_id
        for f in good
    }
    assert len(refs) == 4
