"""The feed envelope: how every service publishes its history to the others and to auditors.

An entry is plain JSON, independent of Python classes and of any cipher:

    {"position": 42, "type": "claim.verified", "schema_version": 1,
     "stream_id": "…uuid…", "stream_version": 3, "recorded_at": "2026-…Z", "data": {…}}

``type`` and ``schema_version`` are stable public names from the feed catalogue
(:mod:`shared.feed.catalogue`, documented in ``docs/events.md``); a change of shape adds a new
schema version, never edits an old one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared import openapi_examples as examples
from shared.feed.catalogue import Payload

MAX_PAGE_SIZE = 1000
MAX_POSITION = 2**63 - 1  # positions and cursors are 64-bit integers in every store
DEFAULT_PAGE_SIZE = 100
MAX_WAIT_S = 25.0


class FeedEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    position: int
    type: str
    schema_version: int
    stream_id: str
    stream_version: int
    recorded_at: dt.datetime
    data: dict[str, Any]
    traceparent: str | None = None
    """The W3C trace context of the work that recorded it (shared/tracing.py): operational,
    not history, so no digest chains it; absent where nothing traced that work."""


class FeedPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.FEED_PAGE]})
    items: list[FeedEntry]
    last_position: int | None
    """Position of the last item on this page; ``None`` when the page is empty."""
    head_position: int | None = None
    """The highest position recorded when the page was read, to show progress (it may count
    records of types that are not on the feed)."""


@dataclasses.dataclass(frozen=True)
class PublicType:
    name: str
    schema_version: int


class EventCatalogue:
    """Maps a service's event classes to their public types in the feed catalogue, and back."""

    def __init__(self, entries: Mapping[type, type[Payload]]) -> None:
        self._by_class = {
            event_class: PublicType(payload.TYPE, payload.SCHEMA_VERSION)
            for event_class, payload in entries.items()
        }
        self.payloads = dict(entries)
        self._by_topic: dict[str, PublicType] = {}

    def register_topic(self, topic: str, event_class: type) -> None:
        self._by_topic[topic] = self._by_class[event_class]

    def topics(self) -> list[str]:
        return sorted(self._by_topic)

    def public_type(self, topic: str) -> PublicType | None:
        return self._by_topic.get(topic)

    def classes(self) -> list[type]:
        return list(self._by_class)


# what a domain event carries besides its payload: the envelope's own fields, never in ``data``
STORE_ENVELOPE = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "_traceparent"}
)  # the last: shared/tracing.TRACE_KEY, the trace the event was saved in


def to_plain(value: Any) -> Any:
    """Turn a value from an event into plain JSON: no floats appear, no Python types leak."""
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, float):
        raise TypeError("binary floats are not allowed in events")
    if isinstance(value, Enum):
        return to_plain(value.value)
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    raise TypeError(f"cannot publish a {type(value).__name__} in a feed")


def event_data(domain_event: Any) -> dict[str, Any]:
    """The public payload of a domain event: its own fields, without envelope fields."""
    return {
        key: to_plain(value)
        for key, value in vars(domain_event).items()
        if key not in STORE_ENVELOPE
    }
