"""A remittance's result as an HL7 FHIR R5 ``PaymentReconciliation``: what the payer paid, and
how the ledger applied it to each claim's payable line (``allocation``: the amount applied as a
``payment``, anything paid beyond what was payable as an ``adjustment`` the provider owes back).
Validated with the ``fhir.resources`` models and written by :mod:`shared.fhir` (amounts digit
for digit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from fhir.resources.paymentreconciliation import PaymentReconciliation

from shared.fhir import valid
from shared.money import format_minor

PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/payment-type"


def payment_reconciliation(
    contract_id: str,
    currency: str,
    idempotency_key: str,
    results: Sequence[dict[str, Any]],
    at: dt.datetime,
) -> dict[str, Any]:
    """``results``: the remittance answer's lines (payable id, applied, overpaid, in minor
    units)."""

    def money(minor: int) -> dict[str, Any]:
        return {"value": Decimal(format_minor(minor, currency)), "currency": currency}

    allocations = []
    for line in results:
        claim = {"reference": f"Claim/{line['payable_id']}"}
        allocations.append(
            {"target": claim, "type": _coded("payment"), "amount": money(line["applied_minor"])}
        )
        if line["overpaid_minor"]:
            allocations.append(
                {"target": claim, "type": _coded("adjustment"),
                 "amount": money(line["overpaid_minor"])}
            )  # fmt: skip
    total = sum(line["applied_minor"] + line["overpaid_minor"] for line in results)
    return valid(
        PaymentReconciliation,
        {
            "resourceType": "PaymentReconciliation",
            "identifier": [
                {"system": f"urn:outcomes:remittance:{contract_id}", "value": idempotency_key}
            ],
            "type": _coded("payment"),
            "status": "active",
            "created": at.isoformat(),
            "date": at.date().isoformat(),
            "outcome": "complete",
            "disposition": f"applied to contract {contract_id}'s payables",
            "amount": money(total),
            "allocation": allocations,
        },
    )


def _coded(code: str) -> dict[str, Any]:
    return {"coding": [{"system": PAYMENT_TYPE, "code": code}]}
