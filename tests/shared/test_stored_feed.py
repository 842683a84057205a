"""Issue 20, point 4: a feed entry read from the stored event's JSON is exactly the entry read
by way of its domain event, for every public type of every service, with the store's cipher
and without, and for the events a real run records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import types
import typing
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import Notification

from services.claims.application import ClaimsApplication
from services.claims.domain import CATALOGUE as CLAIMS
from services.ledger.application import ClaimsFeedSink, LedgerApplication
from services.ledger.domain import CATALOGUE as LEDGER
from services.metrics.domain import CATALOGUE as METRICS
from shared.eventstore import OutcomesApplication
from shared.feed.envelope import EventCatalogue
from shared.feed.follower import Follower, LocalFeedSource
from shared.feed.stored import feed_entry
from tests.claims.helpers import PROVIDER, story_events

EVERY_TYPE = EventCatalogue({**CLAIMS.payloads, **LEDGER.payloads, **METRICS.payloads})
AT = dt.datetime(2026, 3, 31, 23, 59, 58, 123456, tzinfo=dt.UTC)


class Everything(OutcomesApplication):
    """An event store whose feed publishes every service's public types."""

    name = "everything"
    catalogue: ClassVar[EventCatalogue] = EVERY_TYPE


@pytest.fixture(params=["plain", "ciphered"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Everything]:
    env = {}
    if request.param == "ciphered":
        env = {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
               "CIPHER_KEY": AESCipher.create_key(16)}  # fmt: skip
    application = Everything(f"sqlite:///{tmp_path / 'store.sqlite'}", env)
    yield application
    application.close()


def nested() -> dict[str, Any]:
    """A JSON object holding every kind of value an event's free-form field may."""
    return {
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "at": AT,
        "amount": Decimal("1234.50"),
        "text": 'Zo\u00eb\u2019s \u2028 "quoted" \\ line',
        "list": [1, "a", None, True, {"deeper": [uuid.UUID(int=7)]}],
        "empty": {},
    }


def sample(hint: Any) -> Any:
    """A value of an event field's type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in args if a is not type(None)))
    if origin is list:
        return [sample(args[0]), sample(args[0])]
    if origin is dict:
        return nested()
    if hint is Any:
        return nested()
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(iter(hint))
    known = {str: "text-ü", int: -42, bool: True, uuid.UUID: uuid.UUID(int=99), dt.datetime: AT,
             Decimal: Decimal("0.10"), dt.date: dt.date(2026, 2, 28)}  # fmt: skip
    if hint in known:
        return known[hint]
    raise AssertionError(f"no sample for {hint!r}: teach this test the new field type")


def made_up(event_class: type, version: int) -> Any:
    """An event of this class with a value in every field."""
    hints = typing.get_type_hints(event_class)
    envelope = {"originator_id": uuid.uuid4(), "originator_version": version, "timestamp": AT}
    state = {
        f.name: envelope[f.name] if f.name in envelope else sample(hints[f.name])
        for f in dataclasses.fields(event_class)
    }
    event = object.__new__(event_class)
    object.__setattr__(event, "__dict__", state)
    return event


def both_ways(store: Everything, notification: Notification) -> None:
    public = store.catalogue.public_type(notification.topic)
    assert public is not None
    stored = feed_entry(notification, public, store.mapper)
    assert stored is not None, f"{public.name} was not read from its JSON"
    decoded = store.decoded_feed_entry(notification)
    assert stored.model_dump() == decoded.model_dump(), public.name
    assert stored.model_dump_json() == decoded.model_dump_json(), public.name


@pytest.mark.parametrize("event_class", EVERY_TYPE.classes(), ids=lambda c: c.__qualname__)
def test_each_public_type_reads_the_same_from_its_stored_json(
    store: Everything, event_class: type
) -> None:
    stored = store.mapper.to_stored_event(made_up(event_class, 3))
    notification = Notification(
        id=17, originator_id=stored.originator_id, originator_version=stored.originator_version,
        topic=stored.topic, state=stored.state,
    )  # fmt: skip
    both_ways(store, notification)


def test_a_float_or_an_unknown_value_is_left_to_the_domain_path(store: Everything) -> None:
    event = made_up(LEDGER.classes()[0], 1)
    event.__dict__["surprise"] = 1.5
    stored = store.mapper.to_stored_event(event)
    floated = Notification(
        id=1, originator_id=stored.originator_id, originator_version=1, topic=stored.topic,
        state=stored.state,
    )  # fmt: skip
    public = store.catalogue.public_type(stored.topic)
    assert public is not None
    assert feed_entry(floated, public, store.mapper) is None
    with pytest.raises(TypeError, match="floats"):
        store.to_feed_entry(floated)  # the domain path refuses it, as it always did
    text = json.dumps({"timestamp": {"_type_": "datetime_iso", "_data_": AT.isoformat()},
                       "odd": {"_type_": "mystery", "_data_": "x"}}).encode()  # fmt: skip
    if store.mapper.cipher:
        text = store.mapper.cipher.encrypt(text)
    unknown = Notification(
        id=2, originator_id=stored.originator_id, originator_version=1, topic=stored.topic,
        state=text,
    )  # fmt: skip
    assert feed_entry(unknown, public, store.mapper) is None


def test_a_real_runs_feeds_read_the_same_both_ways(
    claims: ClaimsApplication, urls: dict[str, str]
) -> None:
    results = claims.intake.record_events(
        "ips-employment", PROVIDER, story_events("a", "a"), "provider:x"
    )
    for claim_id in [c for r in results for c in r.claim_ids]:
        claims.verification.verify(uuid.UUID(claim_id), "verifier:v", "")
    ledger = LedgerApplication(urls["ledger"], clock=lambda: AT)
    try:
        Follower("t", LocalFeedSource(claims.read_feed), ClaimsFeedSink(ledger)).catch_up()
        for application in (claims, ledger):
            notifications = application.recorder.select_notifications(
                start=0, limit=1000, topics=application.catalogue.topics(),
                inclusive_of_start=False,
            )  # fmt: skip
            assert notifications
            for notification in notifications:
                public = application.catalogue.public_type(notification.topic)
                assert public is not None
                stored = feed_entry(notification, public, application.mapper)
                assert stored is not None
                assert stored == application.decoded_feed_entry(notification)
    finally:
        ledger.close()
