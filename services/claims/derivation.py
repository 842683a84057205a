"""Re-deriving a participant's claims after its history changed. Used inside one use case."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from services.claims.claim import EVIDENCE_OPEN, Claim, ClaimStatus, claim_id_for, is_sampled
from services.claims.commands import Batch, Rederivation
from services.claims.domain import claim_fingerprint
from shared.rules.engine import DerivedClaim, RuleBookVersion, derive
from shared.rules.model import Period, Verification

AUTOMATIC = "system:automatic"
NO_LONGER_SUPPORTED = "no longer supported by the participant's history"
SAMPLE_PASSED = "system:not-sampled"


def settle_submission(claim: Claim, verification: Verification, at: dt.datetime) -> None:
    """Submit a claim whose evidence is complete; then verify it where the contract says so.

    manual: it waits for a verifier. automatic: it is verified at once. sampled: a reproducible
    share goes to a verifier and the rest is verified at once.
    """
    period = Period.MONTH.label(dt.date.fromisoformat(claim.occurred_on))
    percent = Decimal(verification.sample_percent or "0")
    sampled = verification.mode == "sampled" and is_sampled(
        claim.contract_id, period, claim.provider_id, str(claim.id), percent
    )
    if not claim.submit_if_complete("system:evidence-complete", at, sampled, period):
        return
    if verification.mode == "automatic":
        claim.verify(AUTOMATIC, at, "verified automatically on complete evidence")
    elif verification.mode == "sampled" and not sampled:
        claim.verify(SAMPLE_PASSED, at, "outside the manual-review sample")


class ClaimSubject(Protocol):
    """What claims are derived for and linked to: a participant, or a population."""

    contract_id: str
    provider_id: str
    claims: dict[str, dict[str, str]]

    @property
    def id(self) -> UUID: ...

    @property
    def participant_id(self) -> str: ...

    def link_claim(self, claim_key: str, claim_id: str, fingerprint: str) -> None: ...

    def unlink_claim(self, claim_key: str, claim_id: str) -> None: ...


# (subject, its claims as derived now by key, the participant stream whose change caused it)
Derived = tuple[ClaimSubject, dict[str, DerivedClaim], UUID]


def rederive(
    batch: Batch,
    versions: list[RuleBookVersion],
    actor: str,
    load_claim: Callable[[UUID], Claim],
    at: dt.datetime,
    existing: Callable[[Collection[UUID]], set[UUID]],
    reason: str = NO_LONGER_SUPPORTED,
) -> Rederivation:
    """Re-derive each touched participant's claims: retire what no longer holds, add new."""
    derived: list[Derived] = [
        (p, {c.claim_key: c for c in derive(versions, p.history()).claims}, p.id)
        for p in batch.participants.values()
    ]
    return reconcile(derived, batch, versions, (actor, at), load_claim, existing, reason=reason)


def reconcile(
    derived: list[Derived],
    batch: Batch,
    versions: list[RuleBookVersion],
    actor_at: tuple[str, dt.datetime],
    load_claim: Callable[[UUID], Claim],
    existing: Callable[[Collection[UUID]], set[UUID]],
    result: Rederivation | None = None,
    reason: str = NO_LONGER_SUPPORTED,
) -> Rederivation:
    """Bring each subject's linked claims in line with what is derived now: retire what no
    longer holds (or changed), create what is new.

    ``existing`` says which claim ids are taken; it is asked once for the whole batch (and
    again only for the rare claim re-derived after an earlier one was retired)."""
    result = result if result is not None else Rederivation()
    actor, at = actor_at
    wanted: list[tuple[ClaimSubject, str, Any, str, UUID]] = []
    for subject, fresh_by_key, owner in derived:
        for key, link in list(subject.claims.items()):
            fresh = fresh_by_key.get(key)
            if fresh is None or claim_fingerprint(fresh) != link["fingerprint"]:
                claim_id = UUID(link["claim_id"])
                if claim_id not in batch.claims:
                    batch.claims[claim_id] = load_claim(claim_id)
                batch.claims[claim_id].retire(batch.actors.get(owner, actor), at, reason)
                subject.unlink_claim(key, link["claim_id"])
                result.retired.append(link["claim_id"])
                result.retired_by_participant.setdefault(owner, []).append(link["claim_id"])
        wanted += [
            (subject, key, fresh, claim_fingerprint(fresh), owner)
            for key, fresh in fresh_by_key.items()
            if key not in subject.claims
        ]
    taken = existing([_claim_id(s, key, fingerprint, 0) for s, key, _, fingerprint, _ in wanted])
    for subject, key, fresh, fingerprint, owner in wanted:
        generation = 0
        while _claim_id(subject, key, fingerprint, generation) in taken:
            generation += 1
            taken |= existing([_claim_id(subject, key, fingerprint, generation)])
        claim = new_claim(subject, fresh, fingerprint, generation)
        settle_submission(claim, versions[-1].rulebook.verification, at)
        batch.claims[claim.id] = claim
        subject.link_claim(key, str(claim.id), fingerprint)
        result.new_by_trigger.setdefault(fresh.trigger_event_id, []).append(str(claim.id))
        result.new_by_participant.setdefault(owner, []).append(
            (fresh.trigger_event_id, str(claim.id))
        )
    return result


def _claim_id(subject: ClaimSubject, key: str, fingerprint: str, generation: int) -> UUID:
    return claim_id_for(subject.contract_id, subject.participant_id, key, fingerprint, generation)


def new_claim(participant: ClaimSubject, fresh: Any, fingerprint: str, generation: int) -> Claim:
    return Claim(
        contract_id=participant.contract_id,
        participant_id=participant.participant_id,
        claim_key=fresh.claim_key,
        fingerprint=fingerprint,
        provider_id=participant.provider_id,
        outcome_id=fresh.outcome_id,
        occurred_on=fresh.occurred_on.isoformat(),
        amount_minor=fresh.amount_minor,
        currency=fresh.currency,
        contract_version=fresh.contract_version,
        trigger_event_id=fresh.trigger_event_id,
        source_event_ids=list(fresh.source_event_ids),
        tier=fresh.tier,
        trace=dict(fresh.trace),
        evidence_required=list(fresh.evidence_required),
        status=ClaimStatus.AWAITING_EVIDENCE,
        generation=generation,
    )


def carry_forward(
    batch: Batch, result: Rederivation, actor: str, at: dt.datetime, note: str
) -> list[str]:
    """Where a claim was retired and one with the same key derived in its place (the same
    outcome, priced anew: a rule-book amendment), the new claim takes the old one's evidence,
    and is verified if the old one was. The ids of the claims verified so."""
    retired = {
        (claim.participant_id, claim.claim_key): claim
        for claim in (batch.claims[UUID(claim_id)] for claim_id in result.retired)
    }
    verified: list[str] = []
    for pairs in result.new_by_participant.values():
        for _, claim_id in pairs:
            claim = batch.claims[UUID(claim_id)]
            old = retired.get((claim.participant_id, claim.claim_key))
            if old is None:
                continue
            for evidence in old.evidence:
                if (
                    claim.status in EVIDENCE_OPEN
                    and evidence.evidence_type in claim.evidence_required
                ):
                    claim.attach_evidence(actor, evidence)
            period = Period.MONTH.label(dt.date.fromisoformat(claim.occurred_on))
            claim.submit_if_complete(actor, at, False, period)
            if (
                old.status is ClaimStatus.REVERSAL_REQUESTED
                and claim.status is ClaimStatus.SUBMITTED
            ):
                claim.verify(actor, at, note)  # it was verified: only its price changed
                verified.append(claim_id)
    return verified
