"""Who may call each claims route (see shared/access.py for the kinds of caller)."""

from shared.access import (
    CONTRACT_READERS,
    EVERY_TOKEN,
    RECORD_READERS,
    SCOPED_OTHERS,
    SERVICE_ROUTES,
    Access,
)

CLAIM_READERS = RECORD_READERS
# others (payers, providers, and tokens limited to other contracts) see only their own
FILTERED_LISTS = CLAIM_READERS | {"payer_other", "provider_other"} | SCOPED_OTHERS

ACCESS: Access = {
    **SERVICE_ROUTES,
    ("POST", "/v1/contracts"): frozenset({"admin"}),
    # each draft's contract is checked against the token: others get 403 for theirs
    ("POST", "/v1/what-if"): frozenset(
        {"admin", "auditor", "payer", "payer_other"} | SCOPED_OTHERS - {"verifier_other"}
    ),
    ("GET", "/v1/contracts"): EVERY_TOKEN,  # each sees the contracts it may
    ("GET", "/v1/contracts/{contract_id}"): CONTRACT_READERS,
    ("GET", "/v1/contracts/{contract_id}/versions"): CONTRACT_READERS,
    ("POST", "/v1/contracts/{contract_id}/amendments"): frozenset({"admin"}),
    ("GET", "/v1/contracts/{contract_id}/amendments/{amendment_id}"): frozenset(
        {"admin", "auditor", "verifier"}
    ),
    ("POST", "/v1/contracts/{contract_id}/amendments/{amendment_id}/approve"): frozenset({"admin"}),
    ("POST", "/v1/contracts/{contract_id}/amendments/{amendment_id}/withdraw"): frozenset(
        {"admin"}
    ),
    ("GET", "/v1/contracts/{contract_id}/versions/{version}"): CONTRACT_READERS,
    ("GET", "/v1/contracts/{contract_id}/diff"): CONTRACT_READERS,
    ("POST", "/v1/contracts/{contract_id}/events"): frozenset({"provider"}),
    ("POST", "/v1/contracts/{contract_id}/events/batch"): frozenset({"provider"}),
    ("POST", "/v1/contracts/{contract_id}/events/{event_id}/correct"): frozenset({"provider"}),
    ("POST", "/v1/contracts/{contract_id}/events/{event_id}/retract"): frozenset({"provider"}),
    ("POST", "/v1/contracts/{contract_id}/evaluations"): frozenset({"evaluator"}),
    ("POST", "/v1/contracts/{contract_id}/evaluations/{event_id}/correct"): frozenset(
        {"evaluator"}
    ),
    ("POST", "/v1/contracts/{contract_id}/evaluations/{event_id}/retract"): frozenset(
        {"evaluator"}
    ),
    ("POST", "/v1/contracts/{contract_id}/populations/close"): frozenset({"admin"}),
    ("POST", "/v1/contracts/{contract_id}/caseworker-ids"): frozenset({"provider"}),
    ("GET", "/v1/contracts/{contract_id}/import-template"): frozenset(
        {"admin", "auditor", "verifier", "provider"}
    ),
    ("POST", "/v1/contracts/{contract_id}/imports"): frozenset({"provider"}),
    ("GET", "/v1/contracts/{contract_id}/imports/{job_id}"): frozenset(
        {"admin", "auditor", "verifier", "provider"}
    ),
    ("GET", "/v1/contracts/{contract_id}/imports/{job_id}/rejected"): frozenset(
        {"admin", "auditor", "verifier", "provider"}
    ),
    ("GET", "/v1/contracts/{contract_id}/participants/{participant_id}"): frozenset(
        {"admin", "auditor", "verifier", "provider"}
    ),
    ("GET", "/v1/contracts/{contract_id}/participants/{participant_id}/diagnosis"): frozenset(
        {"admin", "auditor", "verifier", "provider"}
    ),
    ("DELETE", "/v1/contracts/{contract_id}/participants/{participant_id}/personal-data"): (
        frozenset({"admin"})
    ),
    ("GET", "/v1/contracts/{contract_id}/sampling"): frozenset(
        {"admin", "auditor", "verifier", "payer"}
    ),
    ("GET", "/v1/claims"): FILTERED_LISTS,
    ("GET", "/v1/claims/overdue"): FILTERED_LISTS,
    ("GET", "/v1/claims/{claim_id}"): CLAIM_READERS,
    ("GET", "/v1/claims/{claim_id}/history"): CLAIM_READERS,
    ("GET", "/v1/explain/claims/{claim_id}"): CLAIM_READERS,
    ("POST", "/v1/contracts/{contract_id}/what-if"): frozenset({"admin", "auditor"}),
    ("GET", "/v1/contracts/{contract_id}/participants/{participant_id}/history"): frozenset(
        {"admin", "auditor", "verifier", "provider"}
    ),
    ("POST", "/v1/claims/{claim_id}/evidence"): frozenset({"provider"}),
    ("POST", "/v1/claims/{claim_id}/verify"): frozenset({"verifier"}),
    ("POST", "/v1/claims/{claim_id}/reject"): frozenset({"verifier"}),
    ("POST", "/v1/claims/{claim_id}/dispute"): frozenset({"provider"}),
    # a verifier limited to other contracts may call it: a claim it does not cover is a 403
    ("POST", "/v1/claims/decisions"): frozenset({"verifier", "verifier_other"}),
}
