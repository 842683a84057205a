"""Who may call each ledger route (see shared/access.py for the kinds of caller)."""

from shared.access import FEED_READERS, PUBLIC, TRAIL_READERS, Access

BOOK_READERS = frozenset({"admin", "auditor", "verifier", "payer", "provider"})

ACCESS: Access = {
    ("GET", "/healthz"): PUBLIC,
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
}
