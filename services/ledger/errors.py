"""Errors the ledger service raises; shared.errors maps them to problem+json."""

from __future__ import annotations

from shared.errors import Conflict, FieldProblem, InvalidInput, NotFound


class BookNotFound(NotFound):
    def __init__(self, contract_id: str) -> None:
        super().__init__(f"no ledger book for contract {contract_id!r}")


class PayableNotFound(NotFound):
    def __init__(self, claim_id: str) -> None:
        super().__init__(f"no ledger line for claim {claim_id!r}")


class RemittanceRefused(InvalidInput):
    def __init__(self, detail: str, problems: list[str]) -> None:
        super().__init__(
            detail,
            [
                FieldProblem(p.split(":", 1)[0] if ": " in p else "body", p.split(": ", 1)[-1])
                for p in problems
            ],
        )


class RemittanceKeyReused(Conflict):
    """An Idempotency-Key was used before with another remittance."""


class PeriodCloseRefused(Conflict):
    """The period is closed already, or has not ended."""


class TransactionNotFound(NotFound):
    def __init__(self, transaction_id: str) -> None:
        super().__init__(f"no transaction {transaction_id!r}")
