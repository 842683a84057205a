"""Typed event attributes: check an incoming event's attributes against its event type."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from shared.errors import FieldProblem
from shared.money import MoneyError, parse_decimal
from shared.rules.model import AttributeSpec, AttributeType, EventTypeSpec

MAX_INTEGER = 10**12


def normalise_attributes(
    spec: EventTypeSpec, attributes: dict[str, Any], path: str = "attributes"
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """Return the attributes in canonical form (decimals as strings, dates as ISO) and problems."""
    problems: list[FieldProblem] = []
    normalised: dict[str, Any] = {}
    for name in sorted(set(attributes) - set(spec.attributes)):
        problems.append(FieldProblem(f"{path}.{name}", "unknown attribute for this event type"))
    for name, attribute in spec.attributes.items():
        if name not in attributes or attributes[name] is None:
            if attribute.required:
                problems.append(FieldProblem(f"{path}.{name}", "required attribute is missing"))
            continue
        value, message = _normalise(attribute, attributes[name])
        if message is not None:
            problems.append(FieldProblem(f"{path}.{name}", message))
        else:
            normalised[name] = value
    return normalised, problems


def _normalise(spec: AttributeSpec, value: Any) -> tuple[Any, str | None]:
    kind = spec.type
    if kind is AttributeType.STRING:
        if not isinstance(value, str):
            return None, "expected a string"
        if len(value) > spec.max_length:
            return None, f"longer than {spec.max_length} characters"
        if any((ord(c) < 0x20 and c not in "\t\n") or ord(c) == 0x7F for c in value):
            return None, "holds control characters"
        return value, None
    if kind is AttributeType.ENUM:
        if not isinstance(value, str) or value not in (spec.values or []):
            return None, f"expected one of {', '.join(spec.values or [])}"
        return value, None
    if kind is AttributeType.BOOLEAN:
        if not isinstance(value, bool):
            return None, "expected true or false"
        return value, None
    if kind is AttributeType.DATE:
        if not isinstance(value, str):
            return None, "expected an ISO date string"
        try:
            return dt.date.fromisoformat(value).isoformat(), None
        except ValueError:
            return None, "expected an ISO date (YYYY-MM-DD)"
    if kind is AttributeType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            return None, "expected an integer"
        if abs(value) > MAX_INTEGER:
            return None, "integer out of range"
        return value, _bounds_problem(spec, Decimal(value))
    return _normalise_decimal(spec, value)


def _normalise_decimal(spec: AttributeSpec, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None, "expected a decimal written as a string (never a binary float)"
    try:
        number = parse_decimal(str(value))
    except MoneyError as exc:
        return None, str(exc)
    if abs(number) > MAX_INTEGER:
        return None, "decimal out of range"
    return str(number), _bounds_problem(spec, number)


def _bounds_problem(spec: AttributeSpec, number: Decimal) -> str | None:
    if spec.minimum is not None and number < Decimal(str(spec.minimum)):
        return f"less than the minimum {spec.minimum}"
    if spec.maximum is not None and number > Decimal(str(spec.maximum)):
        return f"more than the maximum {spec.maximum}"
    return None


def typed_value(spec: AttributeSpec, value: Any) -> Any:
    """A stored (canonical) attribute value as the type conditions compare it as."""
    if value is None:
        return None
    if spec.type is AttributeType.DECIMAL:
        return Decimal(str(value))
    if spec.type is AttributeType.DATE:
        return dt.date.fromisoformat(str(value))
    return value
