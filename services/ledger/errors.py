"""Errors the ledger service raises; shared.errors maps them to problem+json."""

from __future__ import annotations

from shared.errors import NotFound


class BookNotFound(NotFound):
    def __init__(self, contract_id: str) -> None:
        super().__init__(f"no ledger book for contract {contract_id!r}")
