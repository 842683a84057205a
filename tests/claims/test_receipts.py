"""Intake receipts as rows beside the event store (issue 20, point 2), on both stores: written
in the events' transaction or not at all, refused twice by their key, and receipts stored as
aggregates before still answer."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from services.claims.application import ClaimsApplication
from services.claims.commands import IncomingEvent, IntakeResult
from services.claims.domain import IntakeReceipt, Participant, receipt_id
from services.claims.errors import EventIdReused
from services.claims.receipts import COLUMNS, TABLE, Receipt
from shared.sidetables import SideTable
from tests.claims.helpers import PROVIDER, claims_app, ips_rulebook, story_events
from tests.stores import postgres_databases

ACTOR = f"provider:{PROVIDER}"
CONTRACT = "ips-employment"


def stored_topics(app: ClaimsApplication, after: int) -> list[str]:
    return [n.topic.rsplit(".", 1)[-1] for n in app.recorder.select_notifications(after + 1, 100)]


def a_receipt(participant_id: str = "someone") -> Receipt:
    return Receipt(participant_id, 2, "0" * 64, [], [])


def test_an_event_is_stored_as_itself_and_its_receipt_as_a_row(claims: ClaimsApplication) -> None:
    head = claims.head_position()
    [result] = claims.intake.record_events(CONTRACT, PROVIDER, story_events()[:1], ACTOR)
    assert stored_topics(claims, head) == ["Registered", "EventRecorded"]
    key = receipt_id(CONTRACT, PROVIDER, "ev-1")
    assert claims.receipts.get(key) == Receipt(
        result.participant_id, 2, story_events()[0].body_sha256(), [], []
    )
    assert claims.existing([key]) == set()  # no receipt aggregate any more


def test_a_receipt_is_not_kept_when_its_events_are_refused(claims: ClaimsApplication) -> None:
    [first] = claims.intake.record_events(CONTRACT, PROVIDER, story_events()[:1], ACTOR)
    stored = claims.reader.participant(CONTRACT, first.participant_id)
    clash = Participant(stored.contract_id, PROVIDER, stored.participant_id, stored.subject)
    key = receipt_id(CONTRACT, PROVIDER, "never-recorded")
    head = claims.head_position()
    with pytest.raises(IntegrityError):  # the participant's stream has a version 1 already
        claims.save(clash, side_rows=[claims.receipts.rows([(key, a_receipt())])])
    assert claims.receipts.find([key]) == {}
    assert claims.head_position() == head


def test_a_second_receipt_of_the_same_event_is_refused_with_its_events(
    claims: ClaimsApplication,
) -> None:
    claims.intake.record_events(CONTRACT, PROVIDER, story_events()[:1], ACTOR)
    key = receipt_id(CONTRACT, PROVIDER, "ev-1")
    before = claims.receipts.get(key)
    head = claims.head_position()
    newcomer = Participant(CONTRACT, PROVIDER, "another-one", "participant")
    with pytest.raises(IntegrityError):
        claims.save(newcomer, side_rows=[claims.receipts.rows([(key, a_receipt("other"))])])
    assert claims.receipts.get(key) == before
    assert claims.head_position() == head  # the newcomer was not stored either


def test_a_receipt_stored_as_an_aggregate_before_still_answers(claims: ClaimsApplication) -> None:
    """A store written before receipts were rows: the retry, the other body and the
    correction all find the receipt aggregate."""
    [first] = claims.intake.record_events(CONTRACT, PROVIDER, story_events()[:1], ACTOR)
    key = receipt_id(CONTRACT, PROVIDER, "ev-1")
    digest = story_events()[0].body_sha256()
    with _datastore(claims).transaction(commit=True) as cursor:  # as an old store
        cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608
    claims.save(
        IntakeReceipt(CONTRACT, PROVIDER, "ev-1", digest, first.participant_id, 2, [], None)
    )
    assert claims.receipts.get(key) == Receipt(first.participant_id, 2, digest, [], [])
    assert claims.receipts.find([key, key]) == {key: claims.receipts.get(key)}
    head = claims.head_position()
    with pytest.raises(EventIdReused):  # named twice: read once, then refused as before
        claims.intake.record_events(CONTRACT, PROVIDER, story_events()[:1] * 2, ACTOR)
    [again] = claims.intake.record_events(CONTRACT, PROVIDER, story_events()[:1], ACTOR)
    assert again == dataclasses.replace(first, created=False)
    assert claims.head_position() == head
    other = dataclasses.replace(story_events()[0], participant_ref="someone-else")
    with pytest.raises(EventIdReused):
        claims.intake.record_events(CONTRACT, PROVIDER, [other], ACTOR)
    corrected = claims.corrections.retract_event(CONTRACT, PROVIDER, "ev-1", ACTOR, "in error")
    assert corrected.participant_id == first.participant_id and corrected.changed


def test_replicas_starting_together_create_the_table_once() -> None:
    """``CREATE TABLE IF NOT EXISTS`` run at once by several sessions fails all but one on
    PostgreSQL (the table's row type is created twice); an advisory lock serialises them."""
    with postgres_databases(("claims",)) as urls:
        apps = [claims_app(urls["claims"]) for _ in range(6)]
        try:
            apps[0].contracts.register(ips_rulebook())
            with _datastore(apps[0]).transaction(commit=True) as cursor:
                cursor.execute(f"DROP TABLE {TABLE}")
            failures: list[BaseException] = []

            def create(app: ClaimsApplication) -> None:
                try:
                    SideTable(app.recorder, app.database_url, TABLE, COLUMNS)
                except BaseException as failure:  # collected, then asserted
                    failures.append(failure)

            threads = [threading.Thread(target=create, args=(app,)) for app in apps]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert failures == []
            [first] = apps[0].intake.record_events(CONTRACT, PROVIDER, story_events()[:1], ACTOR)
            key = receipt_id(CONTRACT, PROVIDER, "ev-1")
            assert apps[1].receipts.get(key) == Receipt(
                first.participant_id, 2, story_events()[0].body_sha256(), [], []
            )
        finally:
            for app in apps:
                app.close()


def test_two_replicas_recording_the_same_events_at_once_record_each_once(
    claims: ClaimsApplication, urls: dict[str, str]
) -> None:
    """Two applications on one store (two replicas) post the same events at the same moment:
    each event is recorded once, and both answers name the same participant and position."""
    other = claims_app(urls["claims"])
    try:
        for round_number in range(8):
            events = story_events(ref=f"case-{round_number}", prefix=f"r{round_number}")[:2]
            start = threading.Barrier(2)
            answers: dict[str, list[IntakeResult]] = {}
            threads = [
                threading.Thread(target=_post_at_once, args=(app, events, start, answers, name))
                for app, name in ((claims, "one"), (other, "two"))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            one, two = answers["one"], answers["two"]
            assert [dataclasses.replace(a, created=False) for a in one] == [
                dataclasses.replace(a, created=False) for a in two
            ]
            created = [a.created for a in one + two]
            assert created.count(True) == 2  # each of the two events, by one of them
        recorded = [
            n for n in claims.recorder.select_notifications(1, 1000) if "EventRecorded" in n.topic
        ]
        assert len(recorded) == 16
    finally:
        other.close()


def _post_at_once(
    app: ClaimsApplication,
    events: list[IncomingEvent],
    start: threading.Barrier,
    answers: dict[str, list[IntakeResult]],
    name: str,
) -> None:
    start.wait(timeout=10)
    answers[name] = app.intake.record_events(CONTRACT, PROVIDER, events, ACTOR)


def _datastore(app: ClaimsApplication) -> Any:
    recorder: Any = app.recorder
    return recorder.datastore
