"""Request and response bodies of the ledger API. Money: integer minor units plus currency."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from services.ledger import openapi_examples as examples

PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class ProviderBalance(BaseModel):
    provider_id: str
    payable_minor: int = Field(description="Owed to the provider and not yet paid")
    payable: str
    recoverable_minor: int = Field(description="Owed back by the provider")


class BalancesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contract_id": "ips-employment",
                    "currency": "GBP",
                    "as_of": "2026-07-01T09:00:00Z",
                    "outcome_payments_minor": 450000,
                    "paid_minor": 150000,
                    "capped_minor": 0,
                    "providers": [
                        {
                            "provider_id": "northside-ips",
                            "payable_minor": 300000,
                            "payable": "3000.00",
                            "recoverable_minor": 0,
                        }
                    ],
                }
            ]
        }
    )
    contract_id: str
    currency: str
    as_of: dt.datetime | None
    outcome_payments_minor: int | None = Field(
        description="The contract's total; not shown to a provider"
    )
    paid_minor: int | None
    capped_minor: int | None
    providers: list[ProviderBalance]


class PayableOut(BaseModel):
    payable_id: str = Field(description="The claim this payable line is for")
    provider_id: str
    outcome_id: str
    occurred_on: str
    accrued_minor: int
    capped_minor: int
    cap_id: str | None
    paid_minor: int
    netted_minor: int
    outstanding_minor: int
    sequence: int


class PayablesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contract_id": "ips-employment",
                    "currency": "GBP",
                    "items": [
                        {
                            "payable_id": "6d1f0c8e-3b2a-5f47-9e61-0a8b7c6d5e4f",
                            "provider_id": "northside-ips",
                            "outcome_id": "job_sustained_13w",
                            "occurred_on": "2026-06-29",
                            "accrued_minor": 150000,
                            "capped_minor": 50000,
                            "cap_id": "provider-annual",
                            "paid_minor": 0,
                            "netted_minor": 0,
                            "outstanding_minor": 100000,
                            "sequence": 12,
                        }
                    ],
                    "next_after": 12,
                }
            ]
        }
    )
    contract_id: str
    currency: str
    items: list[PayableOut]
    next_after: int = Field(
        description="Pass as `after` for the next page. On the last page it is the book's "
        "latest accrual: asking again with it gives only what was accrued since"
    )


class RemittanceLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payable_id: str = Field(max_length=64, description="A payable's id from `GET /v1/payables`")
    amount_minor: StrictInt = Field(
        description="Positive, in the contract's minor units: a JSON integer, never true, "
        '"100" or 1.0',
        le=10**15,
    )


class RemittanceIn(BaseModel):
    """What a payer paid: each line a payable and the amount sent against it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "contract_id": "ips-employment",
                    "currency": "GBP",
                    "lines": [
                        {"payable_id": "pay_7c1e9a40b2d35f68", "amount_minor": 150000},
                        {"payable_id": "pay_0d4b8e21c9a7f356", "amount_minor": 100000},
                    ],
                }
            ]
        },
    )
    contract_id: str = Field(max_length=64, description="The contract paid under")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217: the contract's own")
    lines: list[RemittanceLineIn] = Field(
        min_length=1, max_length=1000, description="Recorded all at once, or none"
    )


class RemittanceResultOut(BaseModel):
    payable_id: str
    applied_minor: int
    overpaid_minor: int = Field(description="Paid beyond what was payable: now owed back")


class RemittanceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contract_id": "ips-employment",
                    "results": [
                        {
                            "payable_id": "6d1f0c8e-3b2a-5f47-9e61-0a8b7c6d5e4f",
                            "applied_minor": 150000,
                            "overpaid_minor": 0,
                        }
                    ],
                }
            ]
        }
    )
    contract_id: str
    results: list[RemittanceResultOut]


class StatementLine(BaseModel):
    provider_id: str
    opening_minor: int
    accrued_minor: int
    capped_minor: int
    reversed_minor: int
    paid_minor: int
    recovered_minor: int
    closing_minor: int


class StatementOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.STATEMENT_OUT]})
    contract_id: str
    currency: str
    period: str
    closed: bool
    providers: list[StatementLine]
    corrections: list[dict[str, Any]] = Field(
        description="Postings in this period that correct a closed one"
    )


class ReconciliationLine(BaseModel):
    provider_id: str
    owed_minor: int = Field(description="Accrued less reversed")
    paid_minor: int
    difference_minor: int = Field(
        description="Owed less paid: positive still to pay, negative to recover"
    )
    payable_minor: int
    recoverable_minor: int


class ReconciliationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.RECONCILIATION_OUT]})
    contract_id: str
    currency: str
    providers: list[ReconciliationLine]


class PeriodOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PERIOD_OUT]})
    contract_id: str
    closed_periods: list[str]


class LedgerClaimOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.LEDGER_CLAIM_OUT]})
    claim_id: str
    provider_id: str
    outcome_id: str
    amount_minor: int = Field(description="The claim's amount under the rules")
    accrued_minor: int
    capped_minor: int
    cap_id: str | None = Field(description="The cap that held part of it back, if any")
    capped: str = Field(description="none, partly or fully")
    paid_minor: int
    netted_minor: int
    reversed: bool
    outstanding_minor: int
