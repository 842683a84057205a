"""What metrics follows, wired once: each upstream feed, the entry types it reads and the
handler that applies them.

The service's followers, ``outcomes metrics rebuild``, ``outcomes audit rebuild metrics`` and
the tests all build their feed readers from :func:`upstreams`, so a new feed or a new handler
is added here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.metrics.application import CLAIMS_UPSTREAM, DECISIONS_UPSTREAM, LEDGER_UPSTREAM
from services.metrics.readmodels.money import (
    DECISION_FEED_TYPES,
    LEDGER_FEED_TYPES,
    DecisionsHandler,
)
from services.metrics.readmodels.performance import CLAIMS_FEED_TYPES, PerformanceProjector
from shared.feed.follower import HttpFeedSource
from shared.sqlviews import Handler


@dataclass(frozen=True)
class Upstream:
    name: str  # the key its position is kept under
    service: str  # the upstream service whose feed it reads
    types: frozenset[str]  # the entry types metrics reads from its feed
    handler: Handler

    @property
    def follower_name(self) -> str:
        return f"metrics<-{self.name}"

    def source(self, base_url: str, token: Callable[[], str]) -> HttpFeedSource:
        return HttpFeedSource(base_url, token, self.types)


def upstreams(projector: PerformanceProjector | None = None) -> list[Upstream]:
    """The claims feed (rule books and participants' histories), the ledger feed (money),
    applied by one projector, and the claims feed's rejections, on a position of their own."""
    projector = projector or PerformanceProjector()
    return [
        Upstream(CLAIMS_UPSTREAM, CLAIMS_UPSTREAM, CLAIMS_FEED_TYPES, projector),
        Upstream(LEDGER_UPSTREAM, LEDGER_UPSTREAM, LEDGER_FEED_TYPES, projector.apply_ledger),
        Upstream(DECISIONS_UPSTREAM, CLAIMS_UPSTREAM, DECISION_FEED_TYPES, DecisionsHandler()),
    ]
