"""The public feed catalogue: producers publish exactly its fields, golden files pin every
type's shape, and docs/events.md is generated from it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from services.claims.domain import CATALOGUE as CLAIMS
from services.ledger.domain import CATALOGUE as LEDGER
from services.metrics.domain import CATALOGUE as METRICS
from shared.feed.catalogue import BY_TYPE, FEEDS, Payload
from shared.feed.docs import markdown, shape
from shared.feed.envelope import STORE_ENVELOPE, EventCatalogue

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "feed"
ENVELOPE = STORE_ENVELOPE
PRODUCERS = {"claims": CLAIMS, "ledger": LEDGER, "metrics": METRICS}


def _published_fields(event_class: type) -> set[str]:
    """The fields a domain event class publishes: its annotations, less the envelope's."""
    names: set[str] = set()
    for klass in event_class.__mro__:
        for name, annotation in getattr(klass, "__annotations__", {}).items():
            if "ClassVar" not in str(annotation):
                names.add(name)
    return names - ENVELOPE


@pytest.mark.parametrize("feed", sorted(FEEDS))
def test_each_feed_publishes_exactly_its_catalogue(feed: str) -> None:
    producer: EventCatalogue = PRODUCERS[feed]
    assert sorted(p.TYPE for p in producer.payloads.values()) == sorted(p.TYPE for p in FEEDS[feed])


@pytest.mark.parametrize(
    ("event_class", "payload"),
    [(c, p) for producer in PRODUCERS.values() for c, p in producer.payloads.items()],
    ids=lambda value: getattr(value, "TYPE", getattr(value, "__qualname__", "")),
)
def test_a_producer_publishes_the_payload_fields(event_class: type, payload: type[Payload]) -> None:
    assert _published_fields(event_class) == set(payload.model_fields)


@pytest.mark.parametrize("payload", list(BY_TYPE.values()), ids=lambda p: p.TYPE)
def test_golden_shape(payload: type[Payload]) -> None:
    """A renamed, retyped, added or removed field fails here: a change of shape is a new
    schema version (a new golden file), never an edit of a published one."""
    golden = GOLDEN / f"{payload.TYPE}.v{payload.SCHEMA_VERSION}.json"
    found = shape(payload)
    if os.environ.get("OUTCOMES_WRITE_GOLDEN") and not golden.exists():
        golden.write_text(json.dumps(found, indent=2) + "\n")
    assert golden.exists(), f"no golden file for {payload.TYPE} v{payload.SCHEMA_VERSION}"
    assert found == json.loads(golden.read_text())


def test_every_golden_file_names_a_catalogue_type() -> None:
    named = {f"{p.TYPE}.v{p.SCHEMA_VERSION}.json" for p in BY_TYPE.values()}
    assert {path.name for path in GOLDEN.glob("*.json")} == named


def test_a_renamed_field_changes_the_shape() -> None:
    """The golden check can fail: a payload with a field renamed has another shape."""

    class Renamed(Payload):
        TYPE = "claim.verified"
        SCHEMA_VERSION = 1
        STREAM = "claim"
        actor: str
        state: str

    assert shape(Renamed) != shape(BY_TYPE["claim.verified"])


def test_docs_events_is_generated_from_the_catalogue() -> None:
    written = (ROOT / "docs" / "events.md").read_text()
    assert written == markdown(), "regenerate: python -m shared.feed.docs > docs/events.md"
