"""The feed catalogue as documentation, and as the shapes the golden tests pin.

``python -m shared.feed.docs > docs/events.md`` writes the catalogue's reference page;
``tests/shared/test_feed_catalogue.py`` fails when the page is out of date.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from shared.feed.catalogue import FEEDS, Part, Payload

NAMES = {str: "string", int: "integer", bool: "boolean", type(None): "null", Any: "any"}


def _rendered(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        return " | ".join(_rendered(a) for a in arguments)
    if origin is list:
        return f"list of {_rendered(arguments[0])}"
    if origin is dict:
        return f"object of {_rendered(arguments[1])}"
    if isinstance(annotation, type) and issubclass(annotation, Part):
        return annotation.__name__
    return NAMES[annotation]


def _fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Every field of a model, nested parts included: ``booking.amount_minor``, and
    ``entries[].account`` for a list of parts."""
    for name, spec in model.model_fields.items():
        path = prefix + name
        yield path, spec
        annotation = spec.annotation
        inner = typing.get_args(annotation)[0] if typing.get_origin(annotation) is list else None
        if isinstance(annotation, type) and issubclass(annotation, Part):
            yield from _fields(annotation, f"{path}.")
        elif isinstance(inner, type) and issubclass(inner, Part):
            yield from _fields(inner, f"{path}[].")


def shape(model: type[BaseModel]) -> dict[str, str]:
    """Every field of a payload with its type, and whether it may be absent."""
    return {
        path: _rendered(spec.annotation) + ("" if spec.is_required() else " (optional)")
        for path, spec in _fields(model)
    }


def _section(payload: type[Payload]) -> list[str]:
    described = {path: spec.description or "" for path, spec in _fields(payload)}
    lines = [
        f"### `{payload.TYPE}` (schema version {payload.SCHEMA_VERSION})",
        "",
        f"{(payload.__doc__ or '').strip()} Stream: one per {payload.STREAM}.",
        "",
        "| field | type | meaning |",
        "|---|---|---|",
    ]
    for path, kind in shape(payload).items():
        cells = (f"`{path}`", kind, described.get(path, ""))
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return [*lines, ""]


def markdown() -> str:
    lines = [
        "# Events: the public feed catalogue",
        "",
        "<!-- Generated from shared/feed/catalogue.py by `python -m shared.feed.docs`;",
        "     do not edit by hand. -->",
        "",
        "Every event type each service publishes on its feed, with its schema version and the",
        "fields of its `data`. The envelope around `data` (position, type, schema version,",
        "stream, recorded at) and how to read a feed are in `docs/feeds.md`. Money is integer",
        "minor units with a currency; dates are ISO text; there are no binary floats. A change",
        "of shape adds a schema version; a field marked optional may be absent from entries",
        "recorded before it was added.",
        "",
    ]
    for feed, payloads in FEEDS.items():
        lines += [f"## The {feed} feed", ""]
        for payload in payloads:
            lines += _section(payload)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
