"""Access tables: who may call each route. Each service keeps its table next to its routes,
and ``tests/test_access_matrix.py`` calls every route in every service's OpenAPI document as
every kind of caller, failing on any route missing from its table.

The kinds of caller: ``anonymous`` (no token), ``admin``, ``auditor``, ``verifier``,
``service``, ``payer`` (a payer of the contract), ``payer_other`` (a payer of another
contract), ``provider`` (a provider in the contract), ``provider_other`` (a provider outside
it), ``evaluator`` (an evaluator of the contract), ``evaluator_other`` (of another contract),
and ``admin_other``, ``auditor_other``, ``verifier_other`` (tokens of those roles limited to
another contract). A caller not listed for a route must be refused: 401 without a token, 403
with one.
"""

from __future__ import annotations

CALLERS = (
    "anonymous", "admin", "auditor", "verifier", "service",
    "payer", "payer_other", "provider", "provider_other", "evaluator", "evaluator_other",
    "admin_other", "auditor_other", "verifier_other",
)  # fmt: skip
SCOPED_OTHERS = frozenset({"admin_other", "auditor_other", "verifier_other"})
PUBLIC = frozenset(CALLERS)
FEED_READERS = frozenset({"admin", "auditor", "service"})
TRAIL_READERS = frozenset({"admin", "auditor"})
SCRAPERS = frozenset({"admin", "service"})  # /metrics: an unscoped admin, or a service token
EVERY_TOKEN = frozenset(CALLERS) - {"anonymous"}
CONTRACT_READERS = frozenset(
    {"admin", "auditor", "verifier", "service", "payer", "provider", "evaluator"}
)
# the claims, the ledger's books and the reports: the contract's own callers (others: theirs)
RECORD_READERS = frozenset({"admin", "auditor", "verifier", "payer", "provider"})
Access = dict[tuple[str, str], frozenset[str]]

# what every service serves (shared/service.py): health, metrics, its feed and its audit trail
SERVICE_ROUTES: Access = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): SCRAPERS,
    ("GET", "/feed"): FEED_READERS,
    ("GET", "/v1/audit/access-trail"): TRAIL_READERS,
    ("GET", "/v1/audit/digest"): TRAIL_READERS,
}
