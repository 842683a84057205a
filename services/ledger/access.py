"""Who may call each ledger route (see shared/access.py for the kinds of caller)."""

from shared.access import FEED_READERS, PUBLIC, SCRAPERS, TRAIL_READERS, Access

# any payer may ask; another's subscription is a 404 to it, as if it did not exist
SUBSCRIBERS = frozenset({"admin", "admin_other", "payer", "payer_other"})  # others: their own
BOOK_READERS = frozenset({"admin", "auditor", "verifier", "payer", "provider"})

ACCESS: Access = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): SCRAPERS,
    ("GET", "/feed"): FEED_READERS,
    ("GET", "/v1/audit/access-trail"): TRAIL_READERS,
    ("GET", "/v1/audit/digest"): TRAIL_READERS,
    ("GET", "/v1/contracts/{contract_id}/balances"): BOOK_READERS,
    ("GET", "/v1/contracts/{contract_id}/statements"): BOOK_READERS,
    ("GET", "/v1/contracts/{contract_id}/reconciliation"): BOOK_READERS,
    ("GET", "/v1/contracts/{contract_id}/claims/{claim_id}"): BOOK_READERS,
    ("POST", "/v1/contracts/{contract_id}/periods/{period}/close"): frozenset({"admin"}),
    ("GET", "/v1/explain/ledger/{transaction_id}"): BOOK_READERS,
    ("GET", "/v1/contracts/{contract_id}/accounts/{account}/history"): BOOK_READERS,
    ("GET", "/v1/payables"): frozenset({"admin", "auditor", "payer", "provider"}),
    ("POST", "/v1/remittances"): frozenset({"payer"}),
    ("POST", "/v1/subscriptions"): frozenset({"admin", "payer"}),
    ("GET", "/v1/subscriptions"): SUBSCRIBERS,
    ("GET", "/v1/subscriptions/{subscription_id}"): SUBSCRIBERS,
    ("DELETE", "/v1/subscriptions/{subscription_id}"): SUBSCRIBERS,
    ("POST", "/v1/subscriptions/{subscription_id}/pause"): SUBSCRIBERS,
    ("POST", "/v1/subscriptions/{subscription_id}/resume"): SUBSCRIBERS,
    ("GET", "/v1/subscriptions/{subscription_id}/deliveries"): SUBSCRIBERS,
}
