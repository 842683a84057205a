"""Who may call each metrics route (see shared/access.py for the kinds of caller)."""

from shared.access import FEED_READERS, PUBLIC, TRAIL_READERS, Access

ACCESS: Access = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/feed"): FEED_READERS,
    ("GET", "/v1/audit/access-trail"): TRAIL_READERS,
    ("GET", "/v1/contracts/{contract_id}/funnel"): frozenset(
        {"admin", "auditor", "verifier", "payer", "provider"}
    ),
}
