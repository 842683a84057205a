"""Who may call each metrics route (see shared/access.py for the kinds of caller)."""

from shared.access import FEED_READERS, PUBLIC, TRAIL_READERS, Access

REPORT_READERS = frozenset({"admin", "auditor", "verifier", "payer", "provider"})

ACCESS: Access = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/feed"): FEED_READERS,
    ("GET", "/v1/audit/access-trail"): TRAIL_READERS,
    ("GET", "/v1/audit/digest"): TRAIL_READERS,
    ("GET", "/v1/contracts/{contract_id}/funnel"): REPORT_READERS,
    ("GET", "/v1/contracts/{contract_id}/reports"): REPORT_READERS,
    ("GET", "/v1/contracts/{contract_id}/reports/{report}"): REPORT_READERS,
    ("GET", "/v1/contracts/{contract_id}/staffing"): REPORT_READERS,
    ("GET", "/v1/contracts/{contract_id}/indigo"): REPORT_READERS - {"provider"},
    ("POST", "/v1/contracts/{contract_id}/staffing"): frozenset({"provider"}),
    ("GET", "/dashboard/{contract_id}"): REPORT_READERS,
    ("POST", "/v1/contracts/{contract_id}/dashboard-links"): REPORT_READERS,
    ("GET", "/dashboard/{contract_id}/open"): PUBLIC,  # the link it carries is the credential
}
