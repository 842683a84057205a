"""Personal attributes: sealed per participant, never in clear at rest or in the feed, and erased
for good by destroying the participant's key, while claims, books and the feed stay whole."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
import yaml

from services.claims.application import ClaimsApplication
from services.claims.commands import IncomingEvent
from services.claims.errors import PersonalDataWasErased
from services.claims.personal import UnreadableSealedValue, participant_keys, unseal
from shared.rules.model import parse_rulebook
from shared.sqlviews import create_engine
from shared.storeurls import sqlalchemy_url
from tests.claims.helpers import claims_app

EXAMPLES = Path(__file__).parents[2] / "examples" / "contracts"
CONTRACT = "homelessness-prevention"
PROVIDER = "shelter-partners"
NOTES = "Moved-from-Quillerby-Lane-after-eviction-4471"
OTHER_NOTES = "Sister-in-Framlingham-offers-a-room-9902"


def referral(event_id: str = "h1", notes: str | None = NOTES, ref: str = "hp-1") -> IncomingEvent:
    attributes: dict[str, Any] = {"household": "single", "age": 30}
    if notes is not None:
        attributes["support_notes"] = notes
    return IncomingEvent(event_id, ref, "referral", dt.date(2025, 5, 1), attributes)


def plan(event_id: str = "h2", ref: str = "hp-1") -> IncomingEvent:
    return IncomingEvent(event_id, ref, "housing_plan_completed", dt.date(2025, 6, 1), {})


@pytest.fixture
def app(urls: dict[str, str]) -> Iterator[ClaimsApplication]:
    application = claims_app(urls["claims"])
    document = yaml.safe_load((EXAMPLES / f"{CONTRACT}.yaml").read_text())
    application.contracts.register(parse_rulebook(document))
    yield application
    application.close()


def raw_bytes(url: str) -> bytes:
    """Everything the claims store holds on disk: the SQLite files, or every PostgreSQL row."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob("claims*"))
    chunks: list[bytes] = []
    with psycopg.connect(url) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        for (table,) in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"').fetchall():  # noqa: S608
                for value in row:
                    chunks.append(bytes(value) if isinstance(value, bytes | memoryview) else b"")
                    chunks.append(str(value).encode())
    return b"".join(chunks)


def wrapped_key_of(url: str, participant_id: str) -> bytes:
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            value = connection.execute(
                sa.select(participant_keys.c.wrapped_key).where(
                    participant_keys.c.participant_id == participant_id
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return bytes(value)


def test_personal_attributes_are_sealed_in_the_store_and_the_feed(
    app: ClaimsApplication, urls: dict[str, str]
) -> None:
    [result] = app.intake.record_events(CONTRACT, PROVIDER, [referral()], "provider:shelter")
    participant = app.reader.participant(CONTRACT, result.participant_id)
    stored = participant.events[0]
    assert stored["attributes"] == {"household": "single", "age": 30}
    assert stored["personal_sealed"].startswith("pd1.")
    entry = app.read_feed(0, 100)[-1]
    assert entry.type == "participant.event_recorded"
    assert entry.schema_version == 2
    assert entry.data["attributes"] == {"household": "single", "age": 30}
    assert NOTES not in entry.model_dump_json()
    view = app.personal.view(participant)
    assert view.status == "held"
    assert view.by_event == {"h1": {"support_notes": NOTES}}
    assert NOTES.encode() not in raw_bytes(urls["claims"])


def test_the_control_finds_a_non_personal_value_in_the_raw_store(
    app: ClaimsApplication, urls: dict[str, str]
) -> None:
    """The same search does find a value that is not personal, so a miss above means sealed."""
    event = referral(notes=None)
    event.attributes["household"] = "couple"
    app.intake.record_events(CONTRACT, PROVIDER, [event], "provider:shelter")
    assert b'"household":"couple"' in raw_bytes(urls["claims"]).replace(b" ", b"")


def test_erasure_makes_personal_data_unreadable_and_leaves_claims_and_feed_whole(
    app: ClaimsApplication, urls: dict[str, str]
) -> None:
    results = app.intake.record_events(CONTRACT, PROVIDER, [referral(), plan()], "provider:shelter")
    participant_id = results[0].participant_id
    claims_before = dict(app.reader.participant(CONTRACT, participant_id).claims)
    assert claims_before, "the plan should earn a claim"
    feed_before = app.read_feed(0, 1000)
    wrapped = wrapped_key_of(urls["claims"], participant_id)
    assert wrapped in raw_bytes(urls["claims"]) or urls["claims"].startswith("postgres")

    erased = app.personal.erase(CONTRACT, participant_id, "admin:dpo")

    assert erased.first and erased.sealed_events == 1
    participant = app.reader.participant(CONTRACT, participant_id)
    assert participant.claims == claims_before
    assert app.personal.view(participant).status == "erased"
    assert app.reader.derivation(participant).eligible
    feed_after = app.read_feed(0, 1000)
    assert feed_after[: len(feed_before)] == feed_before
    [note] = feed_after[len(feed_before) :]
    assert note.type == "participant.personal_data_erased"
    assert note.data == {"actor": "admin:dpo", "sealed_events": 1}
    assert app.vault.key_for_reading(CONTRACT, participant_id) is None
    if urls["claims"].startswith("sqlite"):
        assert wrapped not in raw_bytes(urls["claims"]), "the wrapped key survived on disk"


def test_a_second_erasure_changes_nothing(app: ClaimsApplication) -> None:
    [result] = app.intake.record_events(CONTRACT, PROVIDER, [referral()], "provider:shelter")
    first = app.personal.erase(CONTRACT, result.participant_id, "admin:dpo")
    head = app.head_position()
    again = app.personal.erase(CONTRACT, result.participant_id, "admin:other")
    assert not again.first
    assert (again.erased_at, again.erased_by) == (first.erased_at, "admin:dpo")
    assert app.head_position() == head


def test_after_erasure_personal_data_is_refused_and_other_events_are_taken(
    app: ClaimsApplication,
) -> None:
    [result] = app.intake.record_events(CONTRACT, PROVIDER, [referral()], "provider:shelter")
    app.personal.erase(CONTRACT, result.participant_id, "admin:dpo")
    head = app.head_position()
    with pytest.raises(PersonalDataWasErased, match="support_notes"):
        app.intake.record_events(
            CONTRACT, PROVIDER, [referral("h9", notes=OTHER_NOTES)], "provider:shelter"
        )
    assert app.head_position() == head
    [taken] = app.intake.record_events(CONTRACT, PROVIDER, [plan()], "provider:shelter")
    assert taken.created and taken.claim_ids


def test_a_participant_erased_before_it_had_personal_data_takes_none_later(
    app: ClaimsApplication,
) -> None:
    [result] = app.intake.record_events(
        CONTRACT, PROVIDER, [referral(notes=None)], "provider:shelter"
    )
    erased = app.personal.erase(CONTRACT, result.participant_id, "admin:dpo")
    assert erased.first and erased.sealed_events == 0
    with pytest.raises(PersonalDataWasErased):
        app.corrections.correct_event(
            CONTRACT, PROVIDER, referral(), "provider:shelter", "notes added"
        )


def test_a_correction_that_keeps_the_personal_values_changes_nothing(
    app: ClaimsApplication,
) -> None:
    [result] = app.intake.record_events(CONTRACT, PROVIDER, [referral()], "provider:shelter")
    unchanged = app.corrections.correct_event(
        CONTRACT, PROVIDER, referral(), "provider:shelter", "resent"
    )
    assert not unchanged.changed
    changed = app.corrections.correct_event(
        CONTRACT, PROVIDER, referral(notes=OTHER_NOTES), "provider:shelter", "new notes"
    )
    assert changed.changed
    participant = app.reader.participant(CONTRACT, result.participant_id)
    assert app.personal.view(participant).by_event == {"h1": {"support_notes": OTHER_NOTES}}


def test_a_sealed_value_does_not_open_under_another_event_or_participant(
    app: ClaimsApplication,
) -> None:
    [result] = app.intake.record_events(CONTRACT, PROVIDER, [referral()], "provider:shelter")
    participant = app.reader.participant(CONTRACT, result.participant_id)
    token = participant.events[0]["personal_sealed"]
    data_key = app.vault.key_for_reading(CONTRACT, result.participant_id)
    assert data_key is not None
    assert unseal(data_key, token, CONTRACT, result.participant_id, "h1") == {
        "support_notes": NOTES
    }
    for context in ((CONTRACT, result.participant_id, "h2"), (CONTRACT, "p_other", "h1")):
        with pytest.raises(UnreadableSealedValue):
            unseal(data_key, token, *context)
