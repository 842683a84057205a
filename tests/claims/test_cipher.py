"""With OUTCOMES_CIPHER_KEY set, every stored event is encrypted: a known value is nowhere in the
raw store, on SQLite or PostgreSQL, while the service still reads it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import yaml
from eventsourcing.cryptography import AESCipher
from pydantic import SecretStr

from services.claims.commands import IncomingEvent
from shared.rules.model import parse_rulebook
from shared.settings import CommonSettings
from tests.claims.helpers import claims_app

EXAMPLES = Path(__file__).parents[2] / "examples" / "contracts"
MARKER = "Zanzibar-Hillside-Academy-7731"


def raw_store_bytes(url: str) -> bytes:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(f"{path.name}*"))
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT topic, state FROM claims_events").fetchall()
    return b"".join(topic.encode() + bytes(state) for topic, state in rows)


def test_the_cipher_hides_event_data_at_rest(urls: dict[str, str]) -> None:
    common = CommonSettings(cipher_key=SecretStr(AESCipher.create_key(32)))
    app = claims_app(urls["claims"], store_env=common.store_env())
    try:
        app.contracts.register(
            parse_rulebook(yaml.safe_load((EXAMPLES / "teens-and-toddlers.yaml").read_text()))
        )
        event = IncomingEvent(
            "t1", "yp-1", "cohort_started", dt.date(2025, 9, 10), {"school": MARKER}
        )
        [result] = app.intake.record_events(
            "teens-and-toddlers", "tt-london", [event], "provider:tt"
        )
        participant = app.reader.participant("teens-and-toddlers", result.participant_id)
        assert participant.events[0]["attributes"]["school"] == MARKER
        assert app.read_feed(0, 10)[-1].data["attributes"]["school"] == MARKER
    finally:
        app.close()
    raw = raw_store_bytes(urls["claims"])
    assert raw, "the store should not be empty"
    assert MARKER.encode() not in raw


def test_without_a_cipher_the_value_is_stored_in_clear(urls: dict[str, str]) -> None:
    """The control: the same search does find the value when the cipher is off."""
    app = claims_app(urls["claims"])
    try:
        app.contracts.register(
            parse_rulebook(yaml.safe_load((EXAMPLES / "teens-and-toddlers.yaml").read_text()))
        )
        event = IncomingEvent(
            "t1", "yp-1", "cohort_started", dt.date(2025, 9, 10), {"school": MARKER}
        )
        app.intake.record_events("teens-and-toddlers", "tt-london", [event], "provider:tt")
    finally:
        app.close()
    assert MARKER.encode() in raw_store_bytes(urls["claims"])
