"""Errors the metrics service raises; shared.errors maps them to problem+json."""

from __future__ import annotations

from shared.errors import NotFound


class ContractNotTracked(NotFound):
    def __init__(self, contract_id: str) -> None:
        super().__init__(f"no contract {contract_id!r} has reached metrics")
