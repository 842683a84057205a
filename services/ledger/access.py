"""Who may call each ledger route (see shared/access.py for the kinds of caller)."""

from shared.access import RECORD_READERS, SERVICE_ROUTES, Access

# any payer may ask; another's subscription is a 404 to it, as if it did not exist
SUBSCRIBERS = frozenset({"admin", "admin_other", "payer", "payer_other"})  # others: their own
BOOK_READERS = RECORD_READERS

ACCESS: Access = {
    **SERVICE_ROUTES,
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
