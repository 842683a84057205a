"""Re-deriving a participant's claims after its history changed. Used inside one use case."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.claims.claim import Claim, ClaimStatus, claim_id_for, is_sampled
from services.claims.commands import Batch, Rederivation
from services.claims.domain import Participant, claim_fingerprint
from shared.rules.engine import RuleBookVersion, derive
from shared.rules.model import Period, Verification

AUTOMATIC = "system:automatic"
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


def rederive(
    batch: Batch,
    versions: list[RuleBookVersion],
    actor: str,
    load_claim: Callable[[UUID], Claim],
    at: dt.datetime,
    existing: Callable[[Collection[UUID]], set[UUID]],
) -> Rederivation:
    """Re-derive each touched participant's claims: retire what no longer holds, add new.

    ``existing`` says which claim ids are taken; it is asked once for the whole batch (and
    again only for the rare claim re-derived after an earlier one was retired)."""
    result = Rederivation()
    wanted: list[tuple[Participant, str, Any, str]] = []
    for participant in batch.participants.values():
        derived = {c.claim_key: c for c in derive(versions, participant.history()).claims}
        for key, link in list(participant.claims.items()):
            fresh = derived.get(key)
            if fresh is None or claim_fingerprint(fresh) != link["fingerprint"]:
                claim_id = UUID(link["claim_id"])
                if claim_id not in batch.claims:
                    batch.claims[claim_id] = load_claim(claim_id)
                batch.claims[claim_id].retire(
                    batch.actors.get(participant.id, actor),
                    at,
                    "no longer supported by the participant's history",
                )
                participant.unlink_claim(key, link["claim_id"])
                result.retired.append(link["claim_id"])
                result.retired_by_participant.setdefault(participant.id, []).append(
                    link["claim_id"]
                )
        wanted += [
            (participant, key, fresh, claim_fingerprint(fresh))
            for key, fresh in derived.items()
            if key not in participant.claims
        ]
    taken = existing([_claim_id(p, key, fingerprint, 0) for p, key, _, fingerprint in wanted])
    for participant, key, fresh, fingerprint in wanted:
        generation = 0
        while _claim_id(participant, key, fingerprint, generation) in taken:
            generation += 1
            taken |= existing([_claim_id(participant, key, fingerprint, generation)])
        claim = new_claim(participant, fresh, fingerprint, generation)
        settle_submission(claim, versions[-1].rulebook.verification, at)
        batch.claims[claim.id] = claim
        participant.link_claim(key, str(claim.id), fingerprint)
        result.new_by_trigger.setdefault(fresh.trigger_event_id, []).append(str(claim.id))
        result.new_by_participant.setdefault(participant.id, []).append(
            (fresh.trigger_event_id, str(claim.id))
        )
    return result


def _claim_id(participant: Participant, key: str, fingerprint: str, generation: int) -> UUID:
    return claim_id_for(
        participant.contract_id, participant.participant_id, key, fingerprint, generation
    )


def new_claim(participant: Participant, fresh: Any, fingerprint: str, generation: int) -> Claim:
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
