"""Serving HL7 FHIR R5 resources: each is validated with the ``fhir.resources`` models before it
is served, but written as JSON here. Those models write a decimal through a binary float
(1234567890123456.78 would come out as ...456.8); money is never a float, so amounts are written
with exactly the digits the ledger holds."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

FHIR_JSON = "application/fhir+json"


def wants_fhir(accept: str) -> bool:
    return FHIR_JSON in accept


def valid(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, once the FHIR model has accepted it (a ValidationError otherwise)."""
    model.model_validate(resource)
    return resource


EXACT = re.compile(r'"\\u0000(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


def as_json(resource: Mapping[str, Any]) -> str:
    """JSON with each decimal written as the number it is, digit for digit (``1500.00``)."""

    def marked(value: Any) -> str:
        if isinstance(value, Decimal):
            return f"\x00{value:f}\x00"  # no served string holds a NUL (input refuses them)
        raise TypeError(f"{type(value).__name__} is not JSON")

    text = json.dumps(resource, default=marked, ensure_ascii=False, separators=(",", ":"))
    return EXACT.sub(r"\1", text)
