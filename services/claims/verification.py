"""Verification use cases: evidence, decisions (one or a thousand), disputes, claim history.

A collaborator of the claims application, given the store, the contracts, the reader and the
clock; each use case loads what it needs, applies one transition per claim through the claim's
state machine, and ends in one ``save``. An illegal transition changes nothing and is reported
as a conflict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from services.claims.claim import (
    Claim,
    DisputeWindowClosed,
    Evidence,
    EvidenceNotAccepted,
    IllegalTransition,
)
from services.claims.contracts import Contracts
from services.claims.derivation import settle_submission
from services.claims.errors import (
    ClaimNotFound,
    ClaimTransitionRefused,
    DecisionKeyReused,
    DecisionsRefused,
    DisputeRefused,
    EvidenceRefused,
    UnknownReasonCode,
)
from services.claims.reader import Reader
from shared.errors import Forbidden
from shared.eventstore import OutcomesApplication, retrying
from shared.idempotency import IdempotencyReceipt, earlier_answer
from shared.identifiers import canonical_sha256
from shared.rules.model import Verification as VerificationRules

MAX_DECISIONS = 1000


@dataclass(frozen=True)
class Decision:
    claim_id: str
    action: str  # "verify" or "reject"
    reason_code: str = ""
    note: str = ""


class Verification:
    def __init__(
        self,
        store: OutcomesApplication,
        contracts: Contracts,
        reader: Reader,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._store = store
        self._contracts = contracts
        self._reader = reader
        self._clock = clock

    def _rules(self, claim: Claim) -> VerificationRules:
        return self._contracts.latest_rulebook(claim.contract_id).verification

    # ---- evidence ----------------------------------------------------------------------------
    def attach_evidence(self, claim_id: UUID, actor: str, evidence: Evidence) -> Claim:
        """Attach an evidence reference; a claim whose evidence is complete is submitted."""
        return retrying(lambda: self._attach_evidence(claim_id, actor, evidence))

    def _attach_evidence(self, claim_id: UUID, actor: str, evidence: Evidence) -> Claim:
        claim = self._reader.claim(claim_id)
        try:
            changed = claim.attach_evidence(actor, evidence)
        except EvidenceNotAccepted as exc:
            raise EvidenceRefused(str(exc)) from None
        if changed:
            settle_submission(claim, self._rules(claim), self._clock())
            self._store.save(claim)
        return claim

    # ---- decisions ---------------------------------------------------------------------------
    def verify(self, claim_id: UUID, actor: str, note: str) -> Claim:
        return self._decide_one(Decision(str(claim_id), "verify", "", note), actor)

    def reject(self, claim_id: UUID, actor: str, reason_code: str, note: str) -> Claim:
        return self._decide_one(Decision(str(claim_id), "reject", reason_code, note), actor)

    def _decide_one(self, decision: Decision, actor: str) -> Claim:
        def command() -> Claim:
            claim = self._reader.claim(UUID(decision.claim_id))
            self._apply(claim, decision, actor, self._clock())
            self._store.save(claim)
            return claim

        return retrying(command)

    def _apply(self, claim: Claim, decision: Decision, actor: str, at: dt.datetime) -> None:
        try:
            if decision.action == "verify":
                claim.verify(actor, at, decision.note)
            else:
                codes = self._rules(claim).reason_codes
                if decision.reason_code not in codes:
                    raise UnknownReasonCode(decision.reason_code, codes)
                claim.reject(actor, at, decision.reason_code, decision.note)
        except IllegalTransition as exc:
            raise ClaimTransitionRefused(
                str(exc), extra={"claim_status": exc.status.value}
            ) from None

    def decide_many(
        self,
        actor: str,
        idempotency_key: str,
        decisions: Sequence[Decision],
        covers: Callable[[str], bool] = lambda _: True,
    ) -> list[dict[str, Any]]:
        """Up to 1,000 decisions in one transaction: all applied, or none if any is refused.

        The same key with the same decisions answers the first result again; with other
        decisions it is a conflict. A claim of a contract the caller's token does not
        ``cover`` refuses them all (403).
        """
        assert len(decisions) <= MAX_DECISIONS
        return retrying(lambda: self._decide_many(actor, idempotency_key, decisions, covers))

    def _decide_many(
        self, actor: str, key: str, decisions: Sequence[Decision], covers: Callable[[str], bool]
    ) -> list[dict[str, Any]]:
        digest = canonical_sha256([asdict(d) for d in decisions])
        earlier = earlier_answer(
            self._store.load, "decisions", actor, key, digest,
            lambda: DecisionKeyReused("this Idempotency-Key was used with other decisions"),
        )  # fmt: skip
        if earlier is not None:
            return earlier
        claims: dict[str, Claim] = {}
        refused: list[dict[str, Any]] = []
        at = self._clock()
        for index, decision in enumerate(decisions):
            try:
                claim = claims.get(decision.claim_id) or self._reader.claim(UUID(decision.claim_id))
                if not covers(claim.contract_id):
                    raise Forbidden(
                        f"decision {index}: this token does not cover contract {claim.contract_id}"
                    )
                self._apply(claim, decision, actor, at)
                claims[decision.claim_id] = claim
            except (ClaimNotFound, ClaimTransitionRefused, UnknownReasonCode, ValueError) as exc:
                refused.append({"index": index, "claim_id": decision.claim_id, "problem": str(exc)})
        if refused:
            raise DecisionsRefused("no decision was applied", extra={"refused": refused})
        results = [
            {"claim_id": d.claim_id, "status": claims[d.claim_id].status.value} for d in decisions
        ]
        self._store.save(
            *claims.values(), IdempotencyReceipt("decisions", actor, key, digest, results)
        )
        return results

    # ---- disputes -------------------------------------------------------------------------------
    def dispute(self, claim_id: UUID, actor: str, note: str) -> Claim:
        def command() -> Claim:
            claim = self._reader.claim(claim_id)
            window_days = self._rules(claim).dispute_window_days
            try:
                claim.dispute(actor, self._clock(), note, window_days)
            except IllegalTransition as exc:
                raise ClaimTransitionRefused(
                    str(exc), extra={"claim_status": exc.status.value}
                ) from None
            except DisputeWindowClosed as exc:
                raise DisputeRefused(str(exc)) from None
            self._store.save(claim)
            return claim

        return retrying(command)
