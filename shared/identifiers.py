"""Identifiers: pseudonymous participant ids and deterministic aggregate ids."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import uuid
from typing import Any

NAMESPACE = uuid.UUID("6f1c1d1e-9a55-4c33-8d0b-0a7c1f2e8b11")
SEPARATOR = "\x1f"
PUBLIC_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_PUBLIC_ID = re.compile(PUBLIC_ID_PATTERN)


@functools.lru_cache(maxsize=8192)
def stable_id(*parts: str) -> uuid.UUID:
    """A UUID determined by its parts, the same on every machine and store. The last few
    thousand are kept: recording a batch asks for each receipt's, participant's and claim's
    id several times, and ``uuid5`` costs about 10 µs in Python."""
    return uuid.uuid5(NAMESPACE, SEPARATOR.join(parts))


def participant_stream_id(contract_id: str, participant_id: str) -> uuid.UUID:
    """The stream of a participant's history in a contract (claims keeps it; metrics finds it)."""
    return stable_id("participant", contract_id, participant_id)


def pseudonymise(key: str, contract_id: str, provider_id: str, participant_ref: str) -> str:
    """The participant id: a keyed hash of (contract, provider, the provider's own reference).

    Without the key nobody can go from an id back to a reference, or test a guess.
    """
    message = SEPARATOR.join((contract_id, provider_id, participant_ref)).encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    return "p_" + digest[:32]


CASEWORKER_PREFIX = "w_"
_CASEWORKER_ID = re.compile(r"^w_[0-9a-f]{32}$")


def caseworker_id(key: str, contract_id: str, provider_id: str, staff_ref: str) -> str:
    """A caseworker's pseudonym: a keyed hash of (contract, provider, the provider's staff
    reference), kept apart from participants' by its prefix and by what it hashes (four parts,
    where a participant's id hashes three and a reference holds no separator)."""
    message = SEPARATOR.join(("caseworker", contract_id, provider_id, staff_ref)).encode()
    return CASEWORKER_PREFIX + hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]


def is_caseworker_id(value: str) -> bool:
    return bool(_CASEWORKER_ID.match(value))


def is_public_id(value: str) -> bool:
    return bool(_PUBLIC_ID.match(value))


def canonical_sha256(value: Any) -> str:
    """SHA-256 of a value's canonical JSON: sorted keys, no spaces, UTF-8."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
