"""The ledger's chart of accounts and transaction kinds: every posting, and every reader of one
(metrics, the auditor), spells them from here."""

from __future__ import annotations

from enum import StrEnum

# ---- the chart of accounts: every ledger posting and every reader of one use these names --------
# | account                  | normal balance | meaning                                          |
# | outcome_payments         | debit          | owed for outcomes, net of caps and reversals     |
# | payable:<provider>       | credit         | owed to the provider, not yet paid               |
# | paid                     | credit         | paid out by the payer                            |
# | recoverable:<provider>   | debit          | owed back by the provider (reversed once paid)   |
# | memo:capped:<cap>        | debit          | memo: what a cap held back, with its offset      |
# | memo:capped_offset       | credit         |                                                  |
OUTCOME_PAYMENTS = "outcome_payments"
PAID = "paid"
CAPPED_OFFSET = "memo:capped_offset"
PAYABLE_PREFIX = "payable:"
RECOVERABLE_PREFIX = "recoverable:"
CAPPED_PREFIX = "memo:capped:"


class Kind(StrEnum):
    """The kinds of ledger transaction."""

    ACCRUAL = "accrual"
    NETTING = "netting"
    REVERSAL = "reversal"
    PAYMENT = "payment"
    OVERPAYMENT = "overpayment"


def payable_account(provider_id: str) -> str:
    return PAYABLE_PREFIX + provider_id


def recoverable_account(provider_id: str) -> str:
    return RECOVERABLE_PREFIX + provider_id


def capped_account(cap_id: str) -> str:
    return CAPPED_PREFIX + cap_id
