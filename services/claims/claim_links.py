"""The claims an aggregate's facts earn, linked by claim key: one definition for both subjects.

A participant and a population (see :class:`services.claims.derivation.ClaimSubject`) each keep
the claims derived from their facts, keyed by claim key, with the fingerprint of the derivation
that made each. Both take their two events from here. Each aggregate names them in its own body
(``ClaimLinked = claim_links.ClaimLinked``), so the library redefines them under the aggregate
and their stored topics stay ``<module>:<Aggregate>.ClaimLinked`` as they always were.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate


class ClaimLinked(Aggregate.Event):
    claim_key: str
    claim_id: str
    fingerprint: str

    def apply(self, aggregate: Any) -> None:
        aggregate.claims[self.claim_key] = {
            "claim_id": self.claim_id,
            "fingerprint": self.fingerprint,
        }


class ClaimUnlinked(Aggregate.Event):
    claim_key: str
    claim_id: str

    def apply(self, aggregate: Any) -> None:
        del aggregate.claims[self.claim_key]


class LinksClaims:
    """Mixin of the two commands; the aggregate defines ``claims`` and names the two events."""

    claims: dict[str, dict[str, str]]
    ClaimLinked: type[ClaimLinked]
    ClaimUnlinked: type[ClaimUnlinked]

    def link_claim(self, claim_key: str, claim_id: str, fingerprint: str) -> None:
        self.trigger_event(  # type: ignore[attr-defined]
            self.ClaimLinked, claim_key=claim_key, claim_id=claim_id, fingerprint=fingerprint
        )

    def unlink_claim(self, claim_key: str, claim_id: str) -> None:
        self.trigger_event(  # type: ignore[attr-defined]
            self.ClaimUnlinked, claim_key=claim_key, claim_id=claim_id
        )
