"""Examples of the metrics service's bodies for its OpenAPI document: its reports on the IPS
example contract for July 2026, trimmed to a row or two a section (each is checked by
tests/test_openapi_problems.py)."""

from __future__ import annotations

from typing import Any

_ENGAGEMENT_KPI_MARCH: dict[str, Any] = {
    "kpi_id": "engagement_within_14_days",
    "name": "Employment plan agreed within 14 days of referral",
    "period": "2026-03",
    "due": 2,
    "met": 2,
    "pending": 0,
    "percent": "100.0",
    "minimum_level": "80",
    "lower_level": "60",
    "level": "met",
    "escalated": False,
    "rag": "green",
}

_SCOPE: dict[str, Any] = {  # what a report was asked for: July 2026, no filter
    "contract_id": "ips-employment",
    "month": "2026-07",
    "period": "month",
    "reference_date": "2026-12-01",
    "as_known_at": None,
    "filters": {
        "provider_id": None,
        "site": None,
        "cohort": None,
        "flag": None,
        "caseworker": None,
    },
    "split": None,
}

_FUNNEL_TO_DATE: dict[str, Any] = {
    "referral": {"participants": 3, "events": 3},
    "enrollment": {"participants": 3, "events": 3},
    "job_start": {"participants": 1, "events": 1},
    "job_sustained": {"participants": 1, "events": 1},
}

FUNNEL_OUT: dict[str, Any] = {
    "contract_id": "ips-employment",
    "stages": ["referral", "enrollment", "job_start", "job_sustained"],
    "overall": _FUNNEL_TO_DATE,
    "by_provider": {"northside-ips": _FUNNEL_TO_DATE},
    "by_month": {
        "2026-03": {
            "referral": {"participants": 2, "events": 2},
            "enrollment": {"participants": 2, "events": 2},
            "job_start": {"participants": 0, "events": 0},
            "job_sustained": {"participants": 0, "events": 0},
        },
        "2026-04": {
            "referral": {"participants": 0, "events": 0},
            "enrollment": {"participants": 0, "events": 0},
            "job_start": {"participants": 1, "events": 1},
            "job_sustained": {"participants": 0, "events": 0},
        },
    },
}

LINK_OUT: dict[str, Any] = {
    "url": "/dashboard/ips-employment/open?link=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJhbGljZSIsInVzZSI6Imxpbmsif"
    "Q.3c2lnbmF0dXJlLW9mLXRoZS1zZXJ2aWNl",
    "expires_at": "2026-12-01T10:41:02.234958Z",
}

PORTFOLIO_OUT: dict[str, Any] = {
    "as_of": "2026-12-01T10:36:02.025395Z",
    "items": [
        {
            "contract_id": "ips-employment",
            "name": "IPS employment support (illustrative)",
            "currency": "GBP",
            "month": "2026-12",
            "participants": 3,
            "outcomes": 4,
            "accrued": "5000.00",
            "paid": "0.00",
            "capped": "0.00",
            "unpaid": "5000.00",
            "target_id": "contract_target",
            "target_period": "2026-Q4",
            "target": 30,
            "actual": 0,
            "percent_of_target": "0.0",
        }
    ],
    "next_after": None,
}

REPORT_OUT: dict[str, Any] = {
    **_SCOPE,
    "report": "kpis",
    "rows": [
        _ENGAGEMENT_KPI_MARCH,
    ],
}

REPORTS_OUT: dict[str, Any] = {
    **_SCOPE,
    "sections": {
        "funnel": [
            {
                "stage": "referral",
                "month": 0,
                "quarter_to_date": 0,
                "year_to_date": 3,
                "contract_to_date": 3,
            }
        ],
        "targets": [
            {
                "target_id": "contract_target",
                "group": None,
                "name": "Contract target (job starts)",
                "stage": "job_start",
                "period": "2026-Q1",
                "current": False,
                "target": 20,
                "actual": 0,
                "percent_of_target": "0.0",
                "difference": -20,
                "prior_actual": 0,
                "against_prior": "same",
                "average_of_previous_3": "0.0",
                "against_average": "same",
                "percent_of_average": None,
            }
        ],
        "kpis": [
            _ENGAGEMENT_KPI_MARCH,
        ],
        "ranking": [
            {
                "rank": 1,
                "provider_id": "northside-ips",
                "provider_name": "Northside IPS Service",
                "score": "referral>job_sustained",
                "score_percent": "33.3",
                "from_participants": 3,
                "to_participants": 1,
            }
        ],
        "conversion": [
            {
                "from_stage": "referral",
                "to_stage": "enrollment",
                "from_participants": 3,
                "to_participants": 3,
                "rate_percent": "100.0",
            }
        ],
        "cohorts": [
            {
                "cohort": "2026-03",
                "stage": "referral",
                "participants": 2,
                "share_of_cohort_percent": "100.0",
            }
        ],
        "rates": [],
        "need_groups": [
            {
                "attribute": "long_term_unemployed",
                "value": "unknown",
                "stage": "referral",
                "participants": 3,
                "share_of_first_stage_percent": "100.0",
            }
        ],
        "averages": [],
        "money": [
            {
                "provider_id": "*",
                "provider_name": "all providers",
                "currency": "GBP",
                "accrued": "0.00",
                "paid": "0.00",
                "capped": "0.00",
                "unpaid": "0.00",
                "budget": "750000.00",
                "accrued_percent_of_budget": "0.0",
                "accrued_month": "0.00",
                "paid_month": "0.00",
                "accrued_quarter_to_date": "0.00",
                "paid_quarter_to_date": "0.00",
                "accrued_year_to_date": "0.00",
                "paid_year_to_date": "0.00",
            }
        ],
        "rejections": [
            {
                "reason_code": "evidence_missing",
                "cohort": "*",
                "month": 0,
                "quarter_to_date": 0,
                "year_to_date": 0,
                "contract_to_date": 0,
            }
        ],
        "caseload": [
            {
                "provider_id": "northside-ips",
                "month": "2026-07",
                "period": "2026-07",
                "wte": None,
                "stage": "referral",
                "participants": 0,
                "per_wte": None,
            }
        ],
        "caseworkers": [],
        "intervals": [
            {
                "from_stage": "referral",
                "to_stage": "enrollment",
                "bucket": "<=1w",
                "participants": 2,
                "share_percent": "66.7",
            }
        ],
        "contact": [{"days_since_last_contact": "0-7", "participants": 0, "as_of": "2026-07-31"}],
        "forecast": [
            {
                "stage": "referral",
                "to_date": 3,
                "monthly_run_rate": "0.3",
                "months_remaining": 29,
                "forecast_at_contract_end": 12,
            }
        ],
        "trends": [
            {
                "stage": "referral",
                "month": "2025-01",
                "period": "2025-01",
                "participants": 0,
                "contract_to_date": 0,
                "target_id": None,
                "target": None,
                "actual": 0,
                "percent_of_target": None,
            }
        ],
    },
}

STAFFING_LIST_OUT: dict[str, Any] = {
    "items": [
        {
            "contract_id": "ips-employment",
            "provider_id": "northside-ips",
            "month": "2026-03",
            "wte": "4.5",
        }
    ]
}

STAFFING_OUT: dict[str, Any] = {
    "contract_id": "ips-employment",
    "provider_id": "northside-ips",
    "month": "2026-03",
    "wte": "4.5",
}
