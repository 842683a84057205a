"""Claim aggregates: the transitions this issue allows, and the ones it refuses."""

from __future__ import annotations

import pytest

from services.claims.domain import Claim, ClaimStatus, IllegalTransition


def new_claim() -> Claim:
    return Claim(
        contract_id="c",
        participant_id="p_1",
        claim_key="job_start",
        fingerprint="f",
        provider_id="prov",
        outcome_id="job_start",
        occurred_on="2026-04-01",
        amount_minor=150_000,
        currency="GBP",
        contract_version=1,
        trigger_event_id="ev-3",
        source_event_ids=["ev-2", "ev-3"],
        tier=None,
        trace={},
        status=ClaimStatus.SUBMITTED,
    )


def test_verify_carries_the_booking_facts() -> None:
    claim = new_claim()
    claim.verify("verifier:v", "pay slip seen")
    [_, verified] = claim.collect_events()
    assert claim.status is ClaimStatus.VERIFIED
    assert verified.booking == {  # type: ignore[attr-defined]
        "contract_id": "c",
        "provider_id": "prov",
        "participant_id": "p_1",
        "outcome_id": "job_start",
        "occurred_on": "2026-04-01",
        "amount_minor": 150_000,
        "currency": "GBP",
        "contract_version": 1,
    }


@pytest.mark.parametrize("first", ["verify", "reject"])
@pytest.mark.parametrize("second", ["verify", "reject"])
def test_a_decided_claim_cannot_be_decided_again(first: str, second: str) -> None:
    claim = new_claim()
    getattr(claim, first)("verifier:v", "first")
    version = claim.version
    with pytest.raises(IllegalTransition):
        getattr(claim, second)("verifier:v", "second")
    assert claim.version == version


def test_retiring_a_verified_claim_asks_for_a_reversal_and_an_unpaid_one_is_voided() -> None:
    verified, submitted = new_claim(), new_claim()
    verified.verify("verifier:v", "")
    verified.retire("provider:p", "retracted")
    submitted.retire("provider:p", "retracted")
    assert verified.status is ClaimStatus.REVERSAL_REQUESTED
    assert submitted.status is ClaimStatus.VOIDED
