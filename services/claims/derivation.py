"""Re-deriving a participant's claims after its history changed. Used inside one use case."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from services.claims.commands import Batch, Rederivation
from services.claims.domain import Claim, ClaimStatus, Participant, claim_fingerprint
from shared.rules.engine import RuleBookVersion, derive


def rederive(
    batch: Batch, versions: list[RuleBookVersion], actor: str, load_claim: Callable[[UUID], Claim]
) -> Rederivation:
    """Re-derive each touched participant's claims: retire what no longer holds, add new."""
    result = Rederivation()
    for participant in batch.participants.values():
        derived = {c.claim_key: c for c in derive(versions, participant.history()).claims}
        for key, link in list(participant.claims.items()):
            fresh = derived.get(key)
            if fresh is None or claim_fingerprint(fresh) != link["fingerprint"]:
                claim_id = UUID(link["claim_id"])
                if claim_id not in batch.claims:
                    batch.claims[claim_id] = load_claim(claim_id)
                batch.claims[claim_id].retire(
                    actor, "no longer supported by the participant's history"
                )
                participant.unlink_claim(key, link["claim_id"])
                result.retired.append(link["claim_id"])
        for key, fresh in derived.items():
            if key in participant.claims:
                continue
            fingerprint = claim_fingerprint(fresh)
            claim = new_claim(participant, fresh, fingerprint)
            batch.claims[claim.id] = claim
            participant.link_claim(key, str(claim.id), fingerprint)
            result.new_by_trigger.setdefault(fresh.trigger_event_id, []).append(str(claim.id))
    return result


def new_claim(participant: Participant, fresh: Any, fingerprint: str) -> Claim:
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
        status=ClaimStatus.SUBMITTED,
    )
