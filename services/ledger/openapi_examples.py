"""Examples of the ledger's bodies for its OpenAPI document: what it answered once the claims of
the IPS example contract were verified and a payer subscribed (tests/test_openapi_problems.py
checks each one)."""

from __future__ import annotations

from typing import Any

DELIVERIES_OUT: dict[str, Any] = {
    "subscription_id": "c09bbef0-2f7f-4d45-9210-bffdac4ff542",
    "items": [],
    "next_after": 0,
}

LEDGER_CLAIM_OUT: dict[str, Any] = {
    "claim_id": "fde7f3c1-1643-565c-9032-d60ec579abc2",
    "provider_id": "northside-ips",
    "outcome_id": "engagement",
    "amount_minor": 50000,
    "accrued_minor": 50000,
    "capped_minor": 0,
    "cap_id": None,
    "capped": "none",
    "paid_minor": 0,
    "netted_minor": 0,
    "reversed": False,
    "outstanding_minor": 50000,
}

PERIOD_OUT: dict[str, Any] = {"contract_id": "ips-employment", "closed_periods": ["2026-03"]}

RECONCILIATION_OUT: dict[str, Any] = {
    "contract_id": "ips-employment",
    "currency": "GBP",
    "providers": [
        {
            "provider_id": "northside-ips",
            "owed_minor": 500000,
            "paid_minor": 0,
            "difference_minor": 500000,
            "payable_minor": 500000,
            "recoverable_minor": 0,
        }
    ],
}

STATEMENT_OUT: dict[str, Any] = {
    "contract_id": "ips-employment",
    "currency": "GBP",
    "period": "2026-12",
    "closed": False,
    "providers": [
        {
            "provider_id": "northside-ips",
            "opening_minor": 0,
            "accrued_minor": 1025000,
            "capped_minor": 0,
            "reversed_minor": 500000,
            "paid_minor": 0,
            "recovered_minor": 0,
            "closing_minor": 525000,
        }
    ],
    "corrections": [],
}

SUBSCRIPTION_OUT: dict[str, Any] = {
    "subscription_id": "c09bbef0-2f7f-4d45-9210-bffdac4ff542",
    "contract_id": "ips-employment",
    "owner": "payer:treasury",
    "url": "https://payments.example.gov/outcomes/webhooks",
    "kinds": ["claim.payable"],
    "description": None,
    "status": "active",
    "status_reason": None,
    "failing_since": None,
    "start_after": 5,
    "created_at": "2026-12-01T10:36:01.533125Z",
    "changed_at": "2026-12-01T10:36:01.533125Z",
    "deliveries": {"pending": 0, "delivered": 0, "cancelled": 0},
}

SUBSCRIPTIONS_OUT: dict[str, Any] = {"items": [SUBSCRIPTION_OUT], "next_after": None}
