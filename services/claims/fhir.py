"""Claims as HL7 FHIR R5 resources: a ``Claim`` (what the provider earned, under which outcome)
and a ``ClaimResponse`` (where its verification stands), and a page of them as a ``Bundle``
(``searchset``). Every resource is validated with the ``fhir.resources`` models before it is
served, and written as JSON by :mod:`shared.fhir` (amounts digit for digit).

The participant is named by its pseudonymous id only (a logical reference by identifier; no
``Patient`` resource exists), the provider and the outcome by their ids in the contract. Status
mapping: docs/claims.md, "Claims as FHIR resources".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fhir.resources.bundle import Bundle
from fhir.resources.claim import Claim
from fhir.resources.claimresponse import ClaimResponse

from shared.fhir import FHIR_JSON, as_json, valid, wants_fhir

SYSTEM = "urn:outcomes"  # identifier systems: urn:outcomes:claim, :participant, :provider
__all__ = [
    "FHIR_JSON",
    "as_json",
    "claim_resource",
    "claim_response",
    "claims_bundle",
    "wants_fhir",
]
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
DECISION = "http://terminology.hl7.org/CodeSystem/claim-decision"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
# our status -> (ClaimResponse.status, .outcome, .decision or None)
RESPONSE: dict[str, tuple[str, str, str | None]] = {
    "awaiting_evidence": ("active", "queued", "pending"),
    "submitted": ("active", "queued", "pending"),
    "disputed": ("active", "queued", "pending"),
    "verified": ("active", "complete", "approved"),
    "rejected": ("active", "complete", "denied"),
    "rejected_final": ("active", "complete", "denied"),
    "voided": ("cancelled", "complete", None),
    "reversal_requested": ("cancelled", "complete", "denied"),
}


def _identifier(kind: str, value: str) -> dict[str, str]:
    return {"system": f"{SYSTEM}:{kind}", "value": value}


def _money(claim: Mapping[str, Any]) -> dict[str, Any]:
    return {"value": Decimal(claim["amount"]), "currency": claim["currency"]}


def claim_resource(claim: Mapping[str, Any]) -> dict[str, Any]:
    """``claim``: a claim as `GET /v1/claims/{id}` gives it."""
    cancelled = RESPONSE[claim["status"]][0] == "cancelled"
    return valid(
        Claim,
        {
            "resourceType": "Claim",
            "id": claim["claim_id"],
            "identifier": [_identifier("claim", claim["claim_id"])],
            "status": "cancelled" if cancelled else "active",
            "type": {
                "coding": [{"system": CLAIM_TYPE, "code": "professional"}],
                "text": "outcome payment",
            },
            "use": "claim",
            "patient": {"identifier": _identifier("participant", claim["participant_id"])},
            "created": str(claim["occurred_on"]),
            "provider": {"identifier": _identifier("provider", claim["provider_id"])},
            "item": [
                {
                    "sequence": 1,
                    "productOrService": {
                        "coding": [
                            {
                                "system": f"{SYSTEM}:outcome:{claim['contract_id']}",
                                "code": claim["outcome_id"],
                            }
                        ]
                    },
                    "servicedDate": str(claim["occurred_on"]),
                    "net": _money(claim),
                }
            ],
            "total": _money(claim),
        },
    )


def claim_response(claim: Mapping[str, Any]) -> dict[str, Any]:
    status, outcome, decision = RESPONSE[claim["status"]]
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": f"{claim['claim_id']}-response",
        "status": status,
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
        "use": "claim",
        "patient": {"identifier": _identifier("participant", claim["participant_id"])},
        "created": str(claim["occurred_on"]),
        "requestor": {"identifier": _identifier("provider", claim["provider_id"])},
        "request": {"reference": f"Claim/{claim['claim_id']}"},
        "outcome": outcome,
    }
    if decision is not None:
        response["decision"] = {"coding": [{"system": DECISION, "code": decision}]}
    if claim["status"] == "verified":
        response["total"] = [
            {
                "category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]},
                "amount": _money(claim),
            }
        ]
    if claim["status"] == "disputed":
        response["processNote"] = [{"text": "the provider disputes a rejection"}]
    return valid(ClaimResponse, response)


def claims_bundle(
    claims: Sequence[Mapping[str, Any]], base: str, links: Mapping[str, str]
) -> dict[str, Any]:
    """A page: each claim's ``Claim`` (a match) and ``ClaimResponse`` (included), with the
    page's links (``self``, ``next``)."""
    entries = []
    for claim in claims:
        url = f"{base}/v1/claims/{claim['claim_id']}"
        entries.append(
            {"fullUrl": url, "resource": claim_resource(claim), "search": {"mode": "match"}}
        )
        entries.append(
            {
                "fullUrl": f"{url}#response",
                "resource": claim_response(claim),
                "search": {"mode": "include"},
            }
        )
    return valid(
        Bundle,
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "link": [{"relation": relation, "url": url} for relation, url in links.items()],
            "entry": entries,
        },
    )
