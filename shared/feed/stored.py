"""Feed entries built from a stored event's JSON (issue 20, point 4).

The library stores each event's state as its transcoder's JSON (after compression and
encryption, if the store has them): the event's own fields, with UUIDs, datetimes and decimals
as ``{"_type_": …, "_data_": …}``. The public payload is those same fields in plain JSON. So a
feed entry is built here with one ``json.loads`` whose object hook writes each typed value
straight in its public form (a UUID hyphenated, a datetime or a decimal as the string it was
stored as), instead of decoding the state into a domain event and walking it back into plain
JSON. The envelope's fields come from the stored record and the state's ``timestamp``.

What this does not know how to read exactly as the domain path would, it leaves to it
(:func:`feed_entry` answers ``None``): an event class with upcasters (``class_version``), a
typed value of a kind it does not know, a float (which the domain path refuses). A test
compares both paths for every public type (``tests/shared/test_stored_feed.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import resolve_topic

from shared.feed.envelope import STORE_ENVELOPE, FeedEntry, PublicType
from shared.tracing import TRACE_KEY


class _NotPlain(ValueError):
    """Something in the stored state the domain path should read instead."""


def _as_uuid(text: str) -> str:
    return str(uuid.UUID(hex=text))


def _as_is(text: str) -> str:
    return text


# the library's transcodings (eventsourcing.application.Application.register_transcodings),
# each to what shared.feed.envelope.to_plain makes of the value they decode to
PUBLIC_FORM = {"uuid_hex": _as_uuid, "datetime_iso": _as_is, "decimal_str": _as_is}


def _plain(obj: dict[str, Any]) -> Any:
    if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
        public = PUBLIC_FORM.get(obj["_type_"])
        if public is None:
            raise _NotPlain(obj["_type_"])
        return public(obj["_data_"])
    return obj


def _no_float(text: str) -> Any:
    raise _NotPlain(f"a float ({text})")


_DECODER = json.JSONDecoder(object_hook=_plain, parse_float=_no_float)


def feed_entry(
    notification: Notification, public: PublicType, mapper: Mapper[Any]
) -> FeedEntry | None:
    """The feed entry of a stored event, read from its JSON; ``None``: read it the domain way."""
    event_class = resolve_topic(notification.topic)
    if getattr(event_class, "class_version", 1) != 1:
        return None
    state_bytes = notification.state
    if mapper.cipher:
        state_bytes = mapper.cipher.decrypt(state_bytes)
    if mapper.compressor:
        state_bytes = mapper.compressor.decompress(state_bytes)
    try:
        state = _DECODER.decode(state_bytes.decode("utf8"))
    except _NotPlain:
        return None
    if "class_version" in state or not isinstance(state.get("timestamp"), str):
        return None
    return entry_of(
        notification,
        public,
        dt.datetime.fromisoformat(state["timestamp"]),
        {k: v for k, v in state.items() if k not in STORE_ENVELOPE},
        state.get(TRACE_KEY),
    )


def entry_of(
    notification: Notification,
    public: PublicType,
    recorded_at: dt.datetime,
    data: dict[str, Any],
    traceparent: str | None,
) -> FeedEntry:
    """A feed entry: its envelope from the stored record and its public type, its payload."""
    return FeedEntry(
        position=notification.id,
        type=public.name,
        schema_version=public.schema_version,
        stream_id=str(notification.originator_id),
        stream_version=notification.originator_version,
        recorded_at=recorded_at,
        data=data,
        traceparent=traceparent,
    )
