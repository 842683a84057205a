"""Idempotency receipts: a retried write with the same key gets the first answer back.

Architecture decision 7: every write a client may retry takes an idempotency key. A receipt is
saved in the same transaction as the write it answers; the same key with the same body returns
the stored answer, and with another body is a conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from shared.identifiers import stable_id


class IdempotencyReceipt(Aggregate):
    """The answer given to one (scope, caller, key)."""

    class Recorded(Aggregate.Created):
        scope: str
        actor: str
        key: str
        body_sha256: str
        results: list[dict[str, Any]]

    @staticmethod
    def create_id(scope: str, actor: str, key: str, **_: Any) -> UUID:
        return receipt_id(scope, actor, key)

    @event(Recorded)
    def __init__(
        self, scope: str, actor: str, key: str, body_sha256: str, results: list[dict[str, Any]]
    ) -> None:
        self.body_sha256 = body_sha256
        self.results = results


def receipt_id(scope: str, actor: str, key: str) -> UUID:
    return stable_id("idempotency", scope, actor, key)


def earlier_answer(
    load: Callable[[UUID, type[IdempotencyReceipt]], IdempotencyReceipt | None],
    scope: str,
    actor: str,
    key: str,
    body_sha256: str,
    reused: Callable[[], Exception],
    legacy_scope: str | None = None,
) -> list[dict[str, Any]] | None:
    """The stored answer for this key, ``None`` if the key is new; raises ``reused()`` when the
    key was used with another body. ``legacy_scope`` is where receipts were kept before the
    scope was narrowed (so a retry across an upgrade still finds its first answer)."""
    receipt = load(receipt_id(scope, actor, key), IdempotencyReceipt)
    if receipt is None and legacy_scope is not None:
        receipt = load(receipt_id(legacy_scope, actor, key), IdempotencyReceipt)
    if receipt is None:
        return None
    if receipt.body_sha256 != body_sha256:
        raise reused()
    results: list[dict[str, Any]] = receipt.results
    return results
