"""Who may call each metrics route (see shared/access.py for the kinds of caller)."""

from shared.access import PUBLIC, RECORD_READERS, SCOPED_OTHERS, SERVICE_ROUTES, Access

REPORT_READERS = RECORD_READERS

ACCESS: Access = {
    **SERVICE_ROUTES,
    ("GET", "/v1/contracts/{contract_id}/funnel"): REPORT_READERS,
    ("GET", "/v1/contracts/{contract_id}/reports"): REPORT_READERS,
    ("GET", "/v1/contracts/{contract_id}/reports/{report}"): REPORT_READERS,
    ("GET", "/v1/contracts/{contract_id}/staffing"): REPORT_READERS,
    ("GET", "/v1/contracts/{contract_id}/indigo"): REPORT_READERS - {"provider"},
    # each sees the contracts it may (a payer or a scoped token: its own)
    ("GET", "/v1/portfolio"): REPORT_READERS - {"provider"} | {"payer_other"} | SCOPED_OTHERS,
    ("POST", "/v1/contracts/{contract_id}/staffing"): frozenset({"provider"}),
    ("GET", "/dashboard/{contract_id}"): REPORT_READERS,
    ("POST", "/v1/contracts/{contract_id}/dashboard-links"): REPORT_READERS,
    ("GET", "/dashboard/{contract_id}/open"): PUBLIC,  # the link it carries is the credential
}
