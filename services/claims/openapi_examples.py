"""Examples of the claims service's bodies for its OpenAPI document: its real answers after the
IPS example contract was registered and three participants' journeys were posted, verified and
amended, trimmed to a few items; tests/test_openapi_problems.py checks each one."""

from __future__ import annotations

from typing import Any

_CONTRACT_TARGET: dict[str, Any] = {
    "id": "contract_target",
    "name": "Contract target (job starts)",
    "stage": "job_start",
    "period": "quarter",
    "values": {"2026-Q1": 20, "2026-Q2": 25, "2026-Q3": 25, "2026-Q4": 30},
}

_ENGAGEMENT_KPI: dict[str, Any] = {
    "id": "engagement_within_14_days",
    "name": "Employment plan agreed within 14 days of referral",
    "start": "referral",
    "end": "enrollment",
    "within_days": 14,
    "period": "month",
    "minimum_level": "80",
    "lower_level": "60",
}

_ENGAGEMENT_TRACE: dict[str, Any] = {
    "contract_version": 1,
    "outcome_id": "engagement",
    "events": {"referral": "ev-1", "trigger": "ev-2"},
    "tariff": "500.00",
    "tariff_source": "price",
    "percentage": "100",
    "multiplier": None,
    "unrounded": "500.00",
    "rounding": "half_up",
    "rounding_unit": "0.01",
    "tier": None,
    "amount_minor": 50000,
}

AMENDMENT_OUT: dict[str, Any] = {
    "amendment_id": "57ba7f0e-829e-4f65-ae6e-cec8f9c1ad09",
    "contract_id": "ips-employment",
    "status": "approved",
    "effective_from": "2026-01-01",
    "proposer": "admin:alice",
    "proposed_at": "2026-12-01T10:35:58.231110+00:00",
    "note": "job start was agreed at 1,750.00",
    "preview": {
        "preview_id": "pv_65c1265c3324c65e13c2035d7f6f2781",
        "draft_sha256": "c4e427aabe5cc0f02560104361172f0093dcabe986c1c5b43c4b8ca95b1c272c",
        "participants": 3,
        "differing_claims": 1,
        "difference_minor": 25000,
        "booked": {
            "actual_accrued_minor": 500000,
            "actual_capped_minor": 0,
            "what_if_accrued_minor": 525000,
            "what_if_capped_minor": 0,
        },
        "by_provider_outcome": [
            {
                "provider_id": "northside-ips",
                "outcome_id": "engagement",
                "actual_claims": 3,
                "actual_minor": 150000,
                "what_if_claims": 3,
                "what_if_minor": 150000,
                "differing_claims": 0,
            }
        ],
        "examples": [
            {
                "participant_id": "p_a9048438db62e33cba3cafb6847df2bc",
                "provider_id": "northside-ips",
                "claim_key": "job_start",
                "outcome_id": "job_start",
                "actual_minor": 150000,
                "what_if_minor": 175000,
            }
        ],
        "position": 47,
    },
    "approver": "admin:bob",
    "approved_at": "2026-12-01T10:36:01.671630+00:00",
    "version": 2,
    "progress": {"participants": 0, "populations": 0, "retired": 0, "derived": 0, "reverified": 0},
    "applied_at": None,
}

APPROVE_IN: dict[str, Any] = {"preview_id": "pv_65c1265c3324c65e13c2035d7f6f2781"}

BATCH_OUT: dict[str, Any] = {
    "results": [
        {
            "event_id": "ev-5",
            "participant_id": "p_356198b5603b1e75f42f4692232273b0",
            "position": 21,
            "claim_ids": [],
            "retired_claim_ids": [],
            "index": 0,
            "status": 201,
        },
        {
            "event_id": "ev-6",
            "participant_id": "p_356198b5603b1e75f42f4692232273b0",
            "position": 22,
            "claim_ids": ["38032e94-ed59-50cd-ad09-718bd56e4193"],
            "retired_claim_ids": [],
            "index": 1,
            "status": 201,
        },
    ]
}

CASEWORKER_IDS_IN: dict[str, Any] = {"caseworker_refs": ["staff-117", "staff-204"]}

CASEWORKER_IDS_OUT: dict[str, Any] = {
    "caseworker_ids": [
        {"caseworker_ref": "staff-117", "caseworker_id": "w_3f9c2a7d1e8b4c6a9f0d2e1b7c3a5d8e"},
        {"caseworker_ref": "staff-204", "caseworker_id": "w_8a1d4e7b2c9f3a6d0e5b8c1f4a7d2e9b"},
    ]
}

CLAIM_LIST_OUT: dict[str, Any] = {
    "items": [
        {
            "claim_id": "fde7f3c1-1643-565c-9032-d60ec579abc2",
            "contract_id": "ips-employment",
            "provider_id": "northside-ips",
            "participant_id": "p_a9048438db62e33cba3cafb6847df2bc",
            "outcome_id": "engagement",
            "status": "submitted",
            "occurred_on": "2026-03-09",
            "amount_minor": 50000,
            "amount": "500.00",
            "currency": "GBP",
            "contract_version": 1,
            "trigger_event_id": "ev-2",
            "source_event_ids": ["ev-1"],
            "tier": None,
            "trace": _ENGAGEMENT_TRACE,
            "sampled": False,
            "evidence_required": [],
            "evidence": [],
            "missing_evidence": [],
            "derived_position": 7,
            "changed_position": 8,
        }
    ],
    "next_after": 33,
}

CLOSING_OUT: dict[str, Any] = {"closed": 0, "claim_ids": [], "more": False}

CONTRACT_OUT: dict[str, Any] = {
    "contract_id": "ips-employment",
    "version": 1,
    "rulebook": {
        "format": 1,
        "contract_id": "ips-employment",
        "name": "IPS employment support (illustrative)",
        "currency": "GBP",
        "rounding": "half_up",
        "effective_from": "2025-01-01",
        "contract_end": "2028-12-31",
        "providers": [{"id": "northside-ips", "name": "Northside IPS Service"}],
        "event_types": {
            "referral": {
                "description": "A clinician referred the participant to the service.",
                "subject": "participant",
                "attributes": {
                    "referral_source": {
                        "type": "enum",
                        "required": False,
                        "description": "",
                        "values": ["secondary_care"],
                        "max_length": 200,
                        "minimum": None,
                        "maximum": None,
                        "personal": False,
                        "flag": None,
                    },
                    "long_term_unemployed": {
                        "type": "boolean",
                        "required": False,
                        "description": "Out of work for 12 months or more at referral.",
                        "values": None,
                        "max_length": 200,
                        "minimum": None,
                        "maximum": None,
                        "personal": False,
                        "flag": "barrier",
                    },
                },
            },
            "enrollment": {
                "description": "The participant agreed an employment plan with a specialist.",
                "subject": "participant",
                "attributes": {},
            },
            "job_start": {
                "description": "The participant started paid work "
                "(verified by pay slip or "
                "contract).",
                "subject": "participant",
                "attributes": {
                    "hours_per_week": {
                        "type": "integer",
                        "required": True,
                        "description": "",
                        "values": None,
                        "max_length": 200,
                        "minimum": 1,
                        "maximum": 80,
                        "personal": False,
                        "flag": None,
                    },
                    "hourly_wage": {
                        "type": "decimal",
                        "required": False,
                        "description": "",
                        "values": None,
                        "max_length": 200,
                        "minimum": 0,
                        "maximum": None,
                        "personal": False,
                        "flag": None,
                    },
                },
            },
            "job_sustained": {
                "description": "The employer confirmed the participant was still in work.",
                "subject": "participant",
                "attributes": {},
            },
        },
        "eligibility": None,
        "base_amounts": {},
        "multiplier_tables": {},
        "evidence_types": [],
        "verification": {
            "mode": "manual",
            "sample_percent": None,
            "decision_days": 30,
            "dispute_window_days": 14,
            "dispute_decision_days": 30,
            "reason_codes": ["evidence_missing"],
        },
        "outcomes": [
            {
                "id": "engagement",
                "name": "Engagement (employment plan agreed)",
                "trigger": "enrollment",
                "requires": [
                    {
                        "event": "referral",
                        "alias": None,
                        "min_days_before": 0,
                        "max_days_before": None,
                        "pick": "latest",
                    }
                ],
                "conditions": [],
                "max_per_participant": 1,
                "per_period": None,
                "price": "500.00",
                "base": None,
                "percentage": "100",
                "multiplier": None,
                "price_tiers": [],
                "otherwise": "base",
                "evidence": [],
            }
        ],
        "caps": [
            {
                "id": "contract_total",
                "scope": "contract",
                "amount": "750000.00",
                "outcome": None,
                "period": None,
            }
        ],
        "targets": [_CONTRACT_TARGET],
        "kpis": [_ENGAGEMENT_KPI],
        "reporting": {
            "site_attribute": None,
            "cohort_stage": None,
            "contact_events": None,
            "closed_stages": None,
            "score": None,
            "budget": None,
        },
    },
    "versions": [
        {
            "version": 1,
            "effective_from": "2025-01-01",
            "document_sha256": "20dbaadb671ac348846374dcdda1f92d3366f572244e7ba766ad9abbefb85c97",
        }
    ],
}

CONTRACT_VERSION_OUT: dict[str, Any] = {
    "version": 1,
    "effective_from": "2025-01-01",
    "document_sha256": "20dbaadb671ac348846374dcdda1f92d3366f572244e7ba766ad9abbefb85c97",
}

CORRECTION_OUT: dict[str, Any] = {
    "event_id": "ev-6",
    "participant_id": "p_356198b5603b1e75f42f4692232273b0",
    "changed": True,
    "derived_claim_ids": ["d3aa9c1e-f05b-5b5e-a827-d1905ebec27d"],
    "retired_claim_ids": ["38032e94-ed59-50cd-ad09-718bd56e4193"],
}

DECISIONS_OUT: dict[str, Any] = {
    "results": [
        {"claim_id": "72e39bbe-9165-5e20-bb21-f92475728ffe", "status": "verified"},
        {"claim_id": "ab47fdf2-dec9-5b52-914f-2ec7bac5021f", "status": "verified"},
    ]
}

DIAGNOSIS_OUT: dict[str, Any] = {
    "contract_id": "ips-employment",
    "participant_id": "p_a9048438db62e33cba3cafb6847df2bc",
    "event_id": None,
    "outcomes": [
        {
            "outcome_id": "engagement",
            "name": "Engagement (employment plan agreed)",
            "status": "derived",
            "reason": None,
            "trigger_event_ids": ["ev-2"],
        },
        {
            "outcome_id": "job_start",
            "name": "Job start",
            "status": "derived",
            "reason": None,
            "trigger_event_ids": ["ev-3"],
        },
    ],
}

DIFF_OUT: dict[str, Any] = {
    "contract_id": "ips-employment",
    "from_version": 1,
    "to_version": 2,
    "changes": [
        {
            "path": "effective_from",
            "kind": "changed",
            "before": "2025-01-01",
            "after": "2026-01-01",
        },
        {
            "path": "outcomes[job_start].price",
            "kind": "changed",
            "before": "1500.00",
            "after": "1750.00",
        },
    ],
    "text": "~ effective_from: '2025-01-01' -> '2026-01-01'\n"
    "~ outcomes[job_start].price: '1500.00' -> '1750.00'",
}


ERASURE_OUT: dict[str, Any] = {
    "contract_id": "ips-employment",
    "participant_id": "p_a9048438db62e33cba3cafb6847df2bc",
    "erased_at": "2026-12-01T10:35:58.140630Z",
    "erased_by": "admin:alice",
    "sealed_events": 0,
    "first": True,
}

EVALUATION_IN: dict[str, Any] = {
    "event_id": "eval-2026-cohort-1",
    "provider_id": "first-step-staffing",
    "cohort_ref": "cohort-2025-h2",
    "type": "impact_evaluated",
    "occurred_on": "2026-09-30",
    "attributes": {
        "reduction_points": "6.5",
        "interval_low": "2.1",
        "interval_high": "10.9",
        "cohort_size": 240,
        "method": "matched",
    },
}

HISTORY_ENTRY_OUT: dict[str, Any] = {
    "type": "claim.derived",
    "position": 7,
    "stream_version": 1,
    "recorded_at": "2026-12-01T10:35:56.828830Z",
    "rulebook_version": 1,
    "actor": None,
    "status": "awaiting_evidence",
    "note": None,
    "data": {
        "contract_id": "ips-employment",
        "participant_id": "p_a9048438db62e33cba3cafb6847df2bc",
        "claim_key": "engagement",
        "fingerprint": "f4bea9159230af12f1d79cd5d49a0bcedeba04e51b36f92ea44a4adb1ae571fd",
        "provider_id": "northside-ips",
        "outcome_id": "engagement",
        "occurred_on": "2026-03-09",
        "amount_minor": 50000,
        "currency": "GBP",
        "contract_version": 1,
        "trigger_event_id": "ev-2",
        "source_event_ids": ["ev-1", "ev-2"],
        "tier": None,
        "trace": _ENGAGEMENT_TRACE,
        "evidence_required": [],
        "status": "awaiting_evidence",
        "generation": 0,
    },
}

IMPORT_JOB_OUT: dict[str, Any] = {
    "job_id": "8f1f32f0-022d-437c-a766-86726cea24e6",
    "contract_id": "ips-employment",
    "status": "done",
    "mode": "all",
    "detail": None,
    "bytes": 116,
    "rows": 2,
    "rows_checked": 2,
    "rows_recorded": 2,
    "recorded": 2,
    "already_recorded": 0,
    "rejected": 0,
    "claims_derived": 1,
    "claims_retired": 0,
    "errors": [],
    "created_at": "2026-12-01T10:35:57.716613Z",
    "started_at": "2026-12-01T10:35:57.736559Z",
    "finished_at": "2026-12-01T10:35:57.756372Z",
}

OVERDUE_OUT: dict[str, Any] = {
    "claim_id": "fde7f3c1-1643-565c-9032-d60ec579abc2",
    "contract_id": "ips-employment",
    "provider_id": "northside-ips",
    "outcome_id": "engagement",
    "status": "submitted",
    "status_since": "2026-03-09T10:12:00Z",
    "due_at": "2026-04-08T10:12:00Z",
    "days_overdue": 3,
}

PARTICIPANT_OUT: dict[str, Any] = {
    "contract_id": "ips-employment",
    "participant_id": "p_a9048438db62e33cba3cafb6847df2bc",
    "provider_id": "northside-ips",
    "subject": "participant",
    "eligibility": {"eligible": True, "reasons": []},
    "personal_data": "none",
    "events": [
        {
            "event_id": "ev-1",
            "type": "referral",
            "occurred_on": "2026-03-02",
            "attributes": {},
            "recorded_at": "2026-12-01T10:35:56.781456Z",
            "stream_version": 2,
            "actor": "provider:northside-cms",
            "corrections": 0,
            "retracted": False,
            "personal_attributes": None,
        }
    ],
    "claims": [{"claim_key": "engagement", "claim_id": "fde7f3c1-1643-565c-9032-d60ec579abc2"}],
}

SAMPLING_OUT: dict[str, Any] = {
    "contract_id": "basic-health-p4p",
    "period": "2026-07",
    "sample_percent": "10",
    "providers": [
        {
            "provider_id": "clinic-network-north",
            "submitted": 120,
            "sampled": 12,
            "sampled_decided": 12,
            "sampled_rejected": 1,
            "rejection_rate": "0.0833",
            "population_amount_minor": 6000000,
            "extrapolated_rejected_amount_minor": 500000,
        }
    ],
}

# the registered rule book with its first outcome repriced, as a portfolio what-if's draft
DRAFTS_IN: dict[str, Any] = {
    "drafts": [
        {
            **CONTRACT_OUT["rulebook"],
            "outcomes": [{**CONTRACT_OUT["rulebook"]["outcomes"][0], "price": "750.00"}],
        }
    ]
}
