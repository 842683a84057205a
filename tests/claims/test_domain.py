"""The claim's state machine: every allowed path, every refused one, and random command runs."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.claims.claim import (
    TRANSITIONS,
    Action,
    Claim,
    ClaimStatus,
    DisputeWindowClosed,
    Evidence,
    EvidenceNotAccepted,
    IllegalTransition,
    is_sampled,
    sample_score,
)

AT = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
S = ClaimStatus


def new_claim(evidence_required: tuple[str, ...] = ("pay_slip",)) -> Claim:
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
        evidence_required=list(evidence_required),
        status=ClaimStatus.AWAITING_EVIDENCE,
        generation=0,
    )


PAY_SLIP = Evidence("pay_slip", "a" * 64, None, "2026-04-30")


def submitted() -> Claim:
    claim = new_claim()
    claim.attach_evidence("provider:prov", PAY_SLIP)
    assert claim.submit_if_complete("system", AT, sampled=False, sample_period="2026-04")
    return claim


def test_a_claim_waits_for_its_evidence_then_is_submitted() -> None:
    claim = new_claim(("pay_slip", "contract"))
    assert not claim.submit_if_complete("system", AT, False, "2026-04")
    claim.attach_evidence("provider:prov", PAY_SLIP)
    assert claim.missing_evidence() == ["contract"]
    assert not claim.attach_evidence("provider:prov", PAY_SLIP)  # the same reference again
    claim.attach_evidence(
        "provider:prov", Evidence("contract", "b" * 64, "https://x/y", "2026-04-02")
    )
    assert claim.submit_if_complete("system", AT, False, "2026-04")
    assert claim.status is S.SUBMITTED


def test_evidence_of_another_type_is_refused() -> None:
    with pytest.raises(EvidenceNotAccepted):
        new_claim().attach_evidence(
            "provider:prov", Evidence("selfie", "c" * 64, None, "2026-04-30")
        )


def test_verify_carries_the_booking_facts() -> None:
    claim = submitted()
    claim.verify("verifier:v", AT, "pay slip seen")
    verified = claim.collect_events()[-1]
    assert claim.status is S.VERIFIED
    assert verified.booking["amount_minor"] == 150_000  # type: ignore[attr-defined]
    assert verified.actor == "verifier:v" and verified.status == "verified"  # type: ignore[attr-defined]


def test_rejected_disputed_then_verified() -> None:
    claim = submitted()
    claim.reject("verifier:v", AT, "form_defect", "teacher's comment on the form")
    claim.dispute(
        "provider:prov", AT + dt.timedelta(days=14), "a clean form is attached", window_days=14
    )
    claim.verify("verifier:v", AT + dt.timedelta(days=20), "clean form seen")
    assert claim.status is S.VERIFIED


def test_a_rejected_dispute_is_final() -> None:
    claim = submitted()
    claim.reject("verifier:v", AT, "evidence_missing", "no pay slip")
    claim.dispute("provider:prov", AT, "it was attached", window_days=14)
    claim.reject("verifier:v", AT, "evidence_invalid", "the pay slip is for another person")
    assert claim.status is S.REJECTED_FINAL
    with pytest.raises(IllegalTransition):
        claim.dispute("provider:prov", AT, "again", window_days=14)


def test_a_dispute_after_the_window_is_refused_and_changes_nothing() -> None:
    claim = submitted()
    claim.reject("verifier:v", AT, "form_defect", "comment")
    version = claim.version
    with pytest.raises(DisputeWindowClosed):
        claim.dispute(
            "provider:prov", AT + dt.timedelta(days=14, seconds=1), "late", window_days=14
        )
    assert (claim.status, claim.version) == (S.REJECTED, version)


@pytest.mark.parametrize("first", ["verify", "reject"])
def test_a_decided_claim_cannot_be_verified_again(first: str) -> None:
    claim = submitted()
    if first == "verify":
        claim.verify("verifier:v", AT, "")
    else:
        claim.reject("verifier:v", AT, "duplicate", "")
    version = claim.version
    with pytest.raises(IllegalTransition):
        claim.verify("verifier:v", AT, "again")
    assert claim.version == version


def test_nothing_is_decided_before_its_evidence() -> None:
    claim = new_claim()
    with pytest.raises(IllegalTransition):
        claim.verify("verifier:v", AT, "")
    with pytest.raises(IllegalTransition):
        claim.reject("verifier:v", AT, "duplicate", "")


def test_retiring_a_verified_claim_asks_for_a_reversal_and_an_unpaid_one_is_voided() -> None:
    verified, waiting = submitted(), new_claim()
    verified.verify("verifier:v", AT, "")
    verified.retire("provider:p", AT, "retracted")
    waiting.retire("provider:p", AT, "retracted")
    assert (verified.status, waiting.status) == (S.REVERSAL_REQUESTED, S.VOIDED)


def test_the_sample_can_be_recomputed_by_anyone_from_its_seed() -> None:
    import hashlib
    from decimal import Decimal

    seed = "\x1f".join(("basic-health-p4p", "2025-04", "clinic-network-north", "claim-1")).encode()
    expected = Decimal(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big")) / Decimal(2**64)
    score = sample_score("basic-health-p4p", "2025-04", "clinic-network-north", "claim-1")
    assert score == expected
    assert is_sampled(
        "basic-health-p4p", "2025-04", "clinic-network-north", "claim-1", score * 100 + 1
    )
    assert not is_sampled(
        "basic-health-p4p", "2025-04", "clinic-network-north", "claim-1", score * 100
    )


def test_about_the_declared_share_is_sampled() -> None:
    from decimal import Decimal

    picked = sum(is_sampled("c", "2025-04", "p", f"claim-{i}", Decimal(10)) for i in range(4000))
    assert 340 <= picked <= 460  # 10 % of 4,000, within five standard deviations


COMMANDS = st.sampled_from(
    ["evidence", "submit", "verify", "reject", "dispute", "late_dispute", "retire"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(COMMANDS, max_size=12))
def test_random_commands_only_ever_take_transitions_the_diagram_allows(commands: list[str]) -> None:
    claim = new_claim()
    allowed = {(before, after) for (before, _), after in TRANSITIONS.items()}
    for command in commands:
        before, version = claim.status, claim.version
        try:
            _run(claim, command)
        except (IllegalTransition, DisputeWindowClosed, EvidenceNotAccepted):
            assert (claim.status, claim.version) == (before, version)
            continue
        if claim.status is not before:
            assert (before, claim.status) in allowed


def _run(claim: Claim, command: str) -> None:
    if command == "evidence":
        claim.attach_evidence("provider:prov", PAY_SLIP)
    elif command == "submit":
        claim.submit_if_complete("system", AT, False, "2026-04")
    elif command == "verify":
        claim.verify("verifier:v", AT, "")
    elif command == "reject":
        claim.reject("verifier:v", AT, "duplicate", "")
    elif command == "dispute":
        claim.dispute("provider:prov", AT, "", window_days=14)
    elif command == "late_dispute":
        claim.dispute("provider:prov", AT + dt.timedelta(days=30), "", window_days=14)
    else:
        claim.retire("provider:prov", AT, "retracted")


def test_every_action_and_status_appears_in_the_table() -> None:
    assert {action for _, action in TRANSITIONS} == set(Action)
    reachable = {S.AWAITING_EVIDENCE} | set(TRANSITIONS.values())
    assert reachable == set(S)
