"""Every example rule book, on a hand-written history, gives exactly the claims worked out here.

Amounts were computed by hand from each file's prices (the arithmetic is in the comments), so a
change to the engine that moves any claim or cent fails here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.rules.engine import RecordedEvent, RuleBookVersion, derive
from shared.rules.model import parse_rulebook

EXAMPLES = Path(__file__).parents[2] / "examples" / "contracts"
Event = tuple[str, str, str, dict[str, Any]]
Expected = tuple[str, str, str | None, int]


def run(contract: str, histories: dict[str, list[Event]]) -> tuple[list[Expected], dict[str, bool]]:
    book = parse_rulebook(yaml.safe_load((EXAMPLES / f"{contract}.yaml").read_text()))
    versions = [RuleBookVersion(1, book)]
    claims: list[Expected] = []
    eligibility = {}
    for subject, events in histories.items():
        history = [RecordedEvent(i, t, dt.date.fromisoformat(d), a) for i, t, d, a in events]
        derivation = derive(versions, history)
        eligibility[subject] = derivation.eligible
        claims += [(subject, c.outcome_id, c.tier, c.amount_minor) for c in derivation.claims]
    return sorted(claims, key=str), eligibility


def test_every_example_is_a_valid_rule_book_with_a_header_comment() -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert [f.stem for f in files] == sorted(
        [
            "ips-employment",
            "homelessness-prevention",
            "teens-and-toddlers",
            "kangaroo-care-dib",
            "basic-health-p4p",
            "ssi-application-assistance",
            "workforce-access-points",
            "family-services-closure",
            "employment-pathways",
            "work-and-health",
        ]
    )
    for file in files:
        text = file.read_text()
        assert text.startswith("# "), file.name
        assert "Simplifications:" in text, file.name
        parse_rulebook(yaml.safe_load(text))


def test_ips_employment() -> None:
    claims, _ = run(
        "ips-employment",
        {
            "full-time": [
                ("a1", "referral", "2026-03-02", {"referral_source": "secondary_care"}),
                ("a2", "enrollment", "2026-03-09", {}),
                ("a3", "job_start", "2026-04-01", {"hours_per_week": 20}),
                ("a4", "job_sustained", "2026-07-08", {}),  # 98 days after the start
            ],
            "part-time": [
                ("b1", "referral", "2026-03-02", {}),
                ("b2", "enrollment", "2026-03-09", {}),
                ("b3", "job_start", "2026-04-01", {"hours_per_week": 15, "hourly_wage": "11.44"}),
                ("b4", "job_sustained", "2026-07-01", {}),  # 91 days: just enough
            ],
            "too-soon": [
                ("c1", "referral", "2026-03-02", {}),
                ("c2", "enrollment", "2026-03-09", {}),
                ("c3", "job_start", "2026-04-01", {"hours_per_week": 30}),
                ("c4", "job_sustained", "2026-06-30", {}),  # 90 days: not yet
            ],
        },
    )
    assert claims == sorted(
        [
            ("full-time", "engagement", None, 50_000),
            ("full-time", "job_start", None, 150_000),
            ("full-time", "sustainment_13_weeks", "full_time", 250_000),
            ("part-time", "engagement", None, 50_000),
            ("part-time", "job_start", None, 150_000),
            ("part-time", "sustainment_13_weeks", None, 120_000),
            ("too-soon", "engagement", None, 50_000),
            ("too-soon", "job_start", None, 150_000),
        ],
        key=str,
    )


def test_homelessness_prevention_pays_eligible_single_adults_only() -> None:
    single = {"household": "single", "age": 30}
    claims, eligible = run(
        "homelessness-prevention",
        {
            "sustained": [
                ("a1", "referral", "2025-05-01", single),
                ("a2", "housing_plan_completed", "2025-05-20", {}),
                ("a3", "housing_secured", "2025-06-10", {"tenure": "private_rented"}),
                ("a4", "housing_sustained", "2026-02-10", {}),  # 245 days after securing
            ],
            "not-yet-8-months": [
                ("b1", "referral", "2025-05-01", single),
                ("b2", "housing_plan_completed", "2025-05-20", {}),
                ("b3", "housing_secured", "2025-06-10", {"tenure": "social"}),
                ("b4", "housing_sustained", "2026-02-07", {}),  # 242 days
            ],
            "late-plan": [
                ("c1", "referral", "2025-05-01", single),
                ("c2", "housing_plan_completed", "2025-08-15", {}),  # 106 days: over 90
                ("c3", "housing_secured", "2025-09-01", {"tenure": "supported"}),
            ],
            "family": [
                ("d1", "referral", "2025-05-01", {"household": "family", "age": 35}),
                ("d2", "housing_plan_completed", "2025-05-10", {}),
            ],
            "under-18": [
                ("e1", "referral", "2025-05-01", {"household": "single", "age": 17}),
                ("e2", "housing_plan_completed", "2025-05-10", {}),
            ],
        },
    )
    assert claims == sorted(
        [
            ("sustained", "plan_completed", None, 40_000),
            ("sustained", "housing_secured", None, 120_000),
            ("sustained", "sustained_8_months", None, 280_000),
            ("not-yet-8-months", "plan_completed", None, 40_000),
            ("not-yet-8-months", "housing_secured", None, 120_000),
            ("late-plan", "housing_secured", None, 120_000),
        ],
        key=str,
    )
    assert eligible == {
        "sustained": True,
        "not-yet-8-months": True,
        "late-plan": True,
        "family": False,
        "under-18": False,
    }


def test_teens_and_toddlers_needs_67_percent_attendance_for_qualifications() -> None:
    claims, _ = run(
        "teens-and-toddlers",
        {
            "attended": [
                ("a1", "cohort_started", "2025-09-10", {"school": "Hillside"}),
                ("a2", "improvement_assessed", "2025-12-01", {"dimension": "attitude"}),
                ("a3", "improvement_assessed", "2025-12-01", {"dimension": "behaviour"}),
                ("a4", "stage_one_attendance", "2026-01-15", {"attendance_percent": 67}),
                ("a5", "qualification_gained", "2026-03-01", {"level": "level_1"}),
                ("a6", "improvement_assessed", "2026-02-01", {"dimension": "attitude"}),
            ],
            "low-attendance": [
                ("b1", "cohort_started", "2025-09-10", {"school": "Hillside"}),
                ("b2", "stage_one_attendance", "2026-01-15", {"attendance_percent": 66}),
                ("b3", "qualification_gained", "2026-03-01", {"level": "entry"}),
                ("b4", "improvement_assessed", "2026-03-02", {"dimension": "attendance"}),
            ],
        },
    )
    assert claims == sorted(
        [
            ("attended", "improved_attitude", None, 30_000),
            ("attended", "improved_behaviour", None, 40_000),
            ("attended", "qualification_level_1", None, 70_000),
            ("low-attendance", "improved_attendance", None, 40_000),
        ],
        key=str,
    )


def test_kangaroo_care_pays_per_hospital_and_per_baby() -> None:
    claims, _ = run(
        "kangaroo-care-dib",
        {
            "hospital-1": [("h1", "hospital_trained", "2025-02-01", {"staff_trained": 25})],
            "hospital-2": [("h2", "hospital_trained", "2025-02-01", {"staff_trained": 5})],
            "baby-1": [
                ("b1", "baby_enrolled", "2025-03-01", {"birth_weight_grams": 1400}),
                ("b2", "quality_care_received", "2025-03-02", {}),
                ("b3", "weight_assessed", "2025-04-20", {"appropriate_gain": True}),
            ],
            "baby-2": [
                ("c1", "baby_enrolled", "2025-03-01", {"birth_weight_grams": 1700}),
                ("c2", "quality_care_received", "2025-03-05", {}),
                ("c3", "weight_assessed", "2025-04-20", {"appropriate_gain": False}),
            ],
        },
    )
    assert claims == sorted(
        [
            ("hospital-1", "metric_a_hospital_trained", None, 2_500_000),
            ("baby-1", "metric_b_quality_care", None, 12_000),
            ("baby-1", "metric_c_weight_gain", None, 8_000),
            ("baby-2", "metric_b_quality_care", None, 12_000),
        ],
        key=str,
    )


def test_basic_health_p4p_applies_the_regional_multiplier_once() -> None:
    def visit(event_id: str, day: str, service: str, province: str) -> Event:
        return (event_id, "service_delivered", day, {"service_code": service, "province": province})

    claims, _ = run(
        "basic-health-p4p",
        {
            "woman-remote": [
                *[
                    visit(f"v{i}", f"2025-0{4 + i}-10", "antenatal_visit", "badakhshan")
                    for i in range(5)
                ],
                visit("d1", "2025-09-20", "delivery", "badakhshan"),
            ],
            "child-kabul": [visit("k1", "2025-05-01", "vaccination_penta3", "kabul")],
            "patient-balkh": [visit("t1", "2025-06-01", "tb_treatment_completed", "balkh")],
        },
    )
    # Rounded half-even to whole afghanis: 133.33 x 1.58 = 210.6614 -> 211 (four visits at
    # most); 900 x 1.58 = 1422; 85.50 x 1.00 = 85.50 -> 86 (the even neighbour);
    # 2000 x 1.10 = 2200
    assert claims == sorted(
        [
            *[("woman-remote", "antenatal_visit", None, 21_100)] * 4,
            ("woman-remote", "delivery", None, 142_200),
            ("child-kabul", "vaccination_penta3", None, 8_600),
            ("patient-balkh", "tb_treatment_completed", None, 220_000),
        ],
        key=str,
    )


def test_ssi_bonus_tiers_by_kind_and_timeliness() -> None:
    def story(prefix: str, kind: str, submitted: str) -> list[Event]:
        return [
            (f"{prefix}1", "referral", "2025-08-01", {"program": "welfare_to_work"}),
            (f"{prefix}2", "application_submitted", submitted, {"kind": kind}),
            (f"{prefix}3", "benefits_approved", "2025-12-01", {}),
        ]

    claims, _ = run(
        "ssi-application-assistance",
        {
            "initial-on-day-45": story("a", "initial", "2025-09-15"),
            "initial-on-day-50": story("b", "initial", "2025-09-20"),
            "recon-on-day-44": story("c", "reconsideration", "2025-09-14"),
            "recon-on-day-61": story("d", "reconsideration", "2025-10-01"),
            "not-approved": story("e", "initial", "2025-08-20")[:2],
        },
    )
    # the bonus is 2,500.00: 100 %, 50 %, 20 %, 10 %
    assert claims == sorted(
        [
            ("initial-on-day-45", "approval_bonus", "initial_within_45_days", 250_000),
            ("initial-on-day-50", "approval_bonus", "initial_later", 125_000),
            ("recon-on-day-44", "approval_bonus", "reconsideration_within_45_days", 50_000),
            ("recon-on-day-61", "approval_bonus", "reconsideration_later", 25_000),
        ],
        key=str,
    )


def test_workforce_access_points_split_96_2_2() -> None:
    def client(prefix: str, barrier: str, wage: str) -> list[Event]:
        return [
            (f"{prefix}1", "client_served", "2025-08-01", {"barrier": barrier}),
            (f"{prefix}2", "job_placement", "2025-09-01", {"hourly_wage": wage}),
        ]

    claims, _ = run(
        "workforce-access-points",
        {
            "justice-involved": client("a", "justice_involved", "23.00"),
            "no-barrier": client("b", "none", "25.00"),
            "at-minimum-wage": client("c", "disability", "18.67"),
            "served-only": client("d", "limited_english", "20.00")[:1],
        },
    )
    # unit price 1,333.33: 96 % = 1,279.9968 -> 1,280.00; 2 % = 26.6666 -> 26.67 (each amount
    # rounded once, so a full set of three pays one cent more than the unit price)
    assert claims == sorted(
        [
            ("justice-involved", "client_served", None, 128_000),
            ("justice-involved", "any_job", None, 2_667),
            ("justice-involved", "high_barrier_job", None, 2_667),
            ("no-barrier", "client_served", None, 128_000),
            ("no-barrier", "any_job", None, 2_667),
            ("at-minimum-wage", "client_served", None, 128_000),
            ("at-minimum-wage", "any_job", None, 2_667),
            ("served-only", "client_served", None, 128_000),
        ],
        key=str,
    )


def test_family_services_closure_by_achievement_level() -> None:
    def case(prefix: str, achievement: str, closed: str = "2025-09-01") -> list[Event]:
        return [
            (f"{prefix}1", "referral", "2025-02-01", {}),
            (
                f"{prefix}2",
                "service_started",
                "2025-02-15",
                {"service_type": "family_preservation"},
            ),
            (f"{prefix}3", "closure_report", closed, {"achievement": achievement}),
        ]

    claims, _ = run(
        "family-services-closure",
        {
            "achieved": case("a", "achieved"),
            "partial": case("b", "partially_achieved"),
            "not-achieved": case("c", "not_achieved"),
            "too-late": case("d", "achieved", closed="2026-02-16"),  # 366 days after the start
        },
    )
    assert claims == sorted(
        [
            ("achieved", "closure", "achieved", 240_000),
            ("partial", "closure", "partially_achieved", 120_000),
        ],
        key=str,
    )


def test_employment_pathways_limits_periods_and_cumulative_days() -> None:
    claims, _ = run(
        "employment-pathways",
        {
            "worker": [
                ("r", "referral", "2025-06-05", {"referral_route": "probation"}),
                ("o1", "job_offer", "2025-06-10", {}),
                ("c1", "coaching_session", "2025-06-12", {}),
                ("p1", "job_placement", "2025-06-20", {"hourly_wage": "16.50"}),
                ("c2", "coaching_session", "2025-06-25", {}),  # same month: not paid again
                ("c3", "coaching_session", "2025-07-03", {}),
                ("s1", "job_separation", "2025-08-19", {}),  # 60 days in work
                ("o2", "job_offer", "2025-09-01", {}),
                ("p2", "job_placement", "2025-09-05", {"hourly_wage": "17.00"}),
                ("k1", "retention_check", "2025-10-04", {}),  # 60 + 29 = 89 days
                ("k2", "retention_check", "2025-10-05", {}),  # 60 + 30 = 90 days
                ("o3", "job_offer", "2025-10-20", {}),
                (
                    "p3",
                    "job_placement",
                    "2025-11-01",
                    {"hourly_wage": "18.50"},
                ),  # third: over limit
            ],
            "offer-too-old": [
                ("r", "referral", "2025-06-05", {"referral_route": "self"}),
                ("o1", "job_offer", "2025-06-10", {}),
                ("p1", "job_placement", "2025-07-11", {"hourly_wage": "15.00"}),  # 31 days on
            ],
        },
    )
    assert claims == sorted(
        [
            ("worker", "monthly_coaching", None, 6_000),
            ("worker", "monthly_coaching", None, 6_000),
            ("worker", "placement", None, 75_000),
            ("worker", "placement", None, 75_000),
            ("worker", "retention_90_days", None, 100_000),
        ],
        key=str,
    )


@pytest.mark.parametrize("name", ["employment-pathways", "basic-health-p4p"])
def test_claim_keys_are_stable_per_trigger_or_period(name: str) -> None:
    book = parse_rulebook(yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text()))
    events = {
        "employment-pathways": [
            RecordedEvent("r", "referral", dt.date(2025, 6, 5), {"referral_route": "self"}),
            RecordedEvent("c1", "coaching_session", dt.date(2025, 6, 12)),
            RecordedEvent("c3", "coaching_session", dt.date(2025, 7, 3)),
        ],
        "basic-health-p4p": [
            RecordedEvent(
                f"v{i}",
                "service_delivered",
                dt.date(2025, 4, i + 1),
                {"service_code": "antenatal_visit", "province": "kabul"},
            )
            for i in range(2)
        ],
    }[name]
    keys = [c.claim_key for c in derive([RuleBookVersion(1, book)], events).claims]
    assert (
        keys
        == {
            "employment-pathways": ["monthly_coaching@2025-06", "monthly_coaching@2025-07"],
            "basic-health-p4p": ["antenatal_visit:v0", "antenatal_visit:v1"],
        }[name]
    )


def test_teens_and_toddlers_pays_a_level_2_conversion_after_a_level_1() -> None:
    attended = {"attendance_percent": 80}
    claims, _ = run(
        "teens-and-toddlers",
        {
            "straight-to-level-2": [
                ("a1", "stage_one_attendance", "2026-01-15", attended),
                ("a2", "qualification_gained", "2026-03-01", {"level": "level_2"}),
            ],
            "converted": [
                ("b1", "stage_one_attendance", "2026-01-15", attended),
                ("b2", "qualification_gained", "2026-03-01", {"level": "level_1"}),
                ("b3", "qualification_gained", "2026-06-01", {"level": "level_2"}),
            ],
            "level-1-recorded-late": [  # the level-1 happened first but was reported after
                ("c1", "stage_one_attendance", "2026-01-15", attended),
                ("c3", "qualification_gained", "2026-06-01", {"level": "level_2"}),
                ("c2", "qualification_gained", "2026-03-01", {"level": "level_1"}),
            ],
        },
    )
    # level 2 alone: 900.00; after a level 1 (700.00): the conversion, 200.00
    assert claims == sorted(
        [
            ("straight-to-level-2", "qualification_level_2", None, 90_000),
            ("converted", "qualification_level_1", None, 70_000),
            ("converted", "qualification_level_2", "conversion_from_level_1", 20_000),
            ("level-1-recorded-late", "qualification_level_1", None, 70_000),
            ("level-1-recorded-late", "qualification_level_2", "conversion_from_level_1", 20_000),
        ],
        key=str,
    )


def test_employment_pathways_pays_months_without_an_arrest_on_probation_referrals() -> None:
    def review(event_id: str, day: str) -> Event:
        return (event_id, "progress_review", day, {})

    claims, _ = run(
        "employment-pathways",
        {
            "on-probation": [
                ("r", "referral", "2025-06-05", {"referral_route": "probation"}),
                review("v1", "2025-06-30"),  # June: no arrest -> paid
                review("v2", "2025-07-15"),
                ("x1", "arrest", "2025-07-28", {}),  # later in July: the July review is not paid
                review("v3", "2025-08-14"),  # August: paid
                review("v4", "2025-08-29"),  # August again: once per month
                ("x2", "arrest", "2025-09-01", {}),
                review("v5", "2025-09-30"),  # September: arrest on the 1st -> not paid
            ],
            "self-referred": [
                ("r", "referral", "2025-06-05", {"referral_route": "self"}),
                review("v1", "2025-06-30"),  # not a probation referral: never paid
            ],
        },
    )
    # 150.00 for June and for August
    assert claims == [
        ("on-probation", "month_without_arrest", None, 15_000),
        ("on-probation", "month_without_arrest", None, 15_000),
    ]


def test_employment_pathways_pays_on_an_evaluation_result_with_a_ceiling() -> None:
    def result(event_id: str, points: str, low: str, size: int) -> Event:
        attributes = {
            "reduction_points": points,
            "interval_low": low,
            "interval_high": "12",
            "cohort_size": size,
            "method": "matched",
        }
        return (event_id, "impact_evaluated", "2026-09-30", attributes)

    claims, _ = run(
        "employment-pathways",
        {
            "cohort-2025-a": [result("e1", "4.5", "1.2", 120)],
            "cohort-2025-b": [result("e2", "8", "3", 150)],
            "cohort-2025-c": [result("e3", "5", "-0.5", 200)],  # the interval includes no effect
            "cohort-2025-d": [result("e4", "-2", "-6", 90)],
        },
    )
    # 250.00 x 4.5 points x 120 = 135,000.00; 250.00 x 8 x 150 = 300,000.00 -> the 200,000.00
    # ceiling; c and d: the interval does not exclude zero, so nothing
    assert claims == [
        ("cohort-2025-a", "impact_payment", None, 13_500_000),
        ("cohort-2025-b", "impact_payment", None, 20_000_000),
    ]


def test_basic_health_p4p_scales_the_quarterly_bonus_by_the_quality_score() -> None:
    def assessed(event_id: str, day: str, **overrides: int) -> Event:
        values = {
            "hygiene_percent": 95,  # 3 points (at least 90)
            "protocol_adherence_percent": 80,  # 2 (at least 75)
            "equipment_percent": 60,  # 1 (at least 50)
            "drug_availability_percent": 40,  # 0
            "staff_presence_percent": 90,  # 3: the bound itself counts
            "records_complete_percent": 75,  # 2
            "referral_followup_percent": 74,  # 1: just under 75
            "patient_satisfaction_percent": 100,  # 3
            "cleanliness_percent": 49,  # 0: just under 50
            "stock_out_days": 2,  # 2 (at most 3)
        }
        values.update(overrides)
        return (event_id, "quality_assessed", day, dict(values))

    top = {name: 100 for name in ("hygiene_percent", "protocol_adherence_percent")}
    claims, _ = run(
        "basic-health-p4p",
        {
            "facility-1": [
                assessed("q1", "2025-06-30"),
                assessed("q1-again", "2025-06-30", stock_out_days=0),  # same quarter: once
                assessed(
                    "q2",
                    "2025-09-30",
                    **top,
                    equipment_percent=100,
                    drug_availability_percent=100,
                    referral_followup_percent=100,
                    records_complete_percent=100,
                    cleanliness_percent=100,
                    stock_out_days=0,
                ),
            ],
        },
    )
    # 3+2+1+0+3+2+1+3+0+2 = 17 of 30: 5,000 x 17/30 = 2,833.33... -> 2,833 whole afghanis;
    # then all ten at 3 points: 30 of 30 -> 5,000
    assert claims == [
        ("facility-1", "quality_bonus", None, 283_300),
        ("facility-1", "quality_bonus", None, 500_000),
    ]


def test_work_and_health_pays_and_judges_its_service_levels() -> None:
    from services.metrics.facts import KPI, LiveEvent, contributions, participant_facts, plan_for

    history = [
        ("r", "referral", "2025-04-01", {}),
        ("c", "initial_contact", "2025-04-03", {}),  # 2 days: in time
        ("s", "programme_start", "2025-04-07", {}),
        ("w", "welcome_session", "2025-04-25", {}),  # 18 days: late
        ("m1", "meeting", "2025-04-10", {"mode": "face_to_face"}),
        ("m2", "meeting", "2025-04-20", {"mode": "phone"}),
        ("m3", "meeting", "2025-05-05", {"mode": "video"}),  # day 28: the third in time
        ("v1", "face_to_face_contact", "2025-04-08", {}),
        ("v2", "face_to_face_contact", "2025-04-22", {}),  # April: 2, met; May: 1, not met
        ("v3", "face_to_face_contact", "2025-05-06", {}),
        ("x1", "missed_appointment", "2025-05-12", {}),
        ("f1", "follow_up", "2025-05-14", {}),  # 2 days: in time
        ("x2", "missed_appointment", "2025-06-02", {}),
        ("f2", "follow_up", "2025-06-09", {}),  # 7 days: late
        ("j", "job_start", "2025-09-01", {"hours_per_week": 30}),
        ("e", "earnings_threshold_met", "2026-06-30", {}),  # 449 days after the start
    ]
    claims, _ = run("work-and-health", {"person": history})
    # 350.00 on the programme start; 2,500.00 for earnings within 456 days of it
    assert claims == [
        ("person", "attachment_fee", None, 35_000),
        ("person", "job_outcome", None, 250_000),
    ]
    book = parse_rulebook(yaml.safe_load((EXAMPLES / "work-and-health.yaml").read_text()))
    plan = plan_for(book)
    events = [LiveEvent(t, dt.date.fromisoformat(d), a) for _, t, d, a in history]
    statuses = sorted(
        (key.k1, key.k2)
        for key in contributions(plan, participant_facts(plan, "wh-north", events))
        if key.measure == KPI
    )
    # periods are months (the KPIs' default); the job start converted the April referral
    assert statuses == [
        ("first_contact_in_3_days", "met|2025-04"),
        ("missed_followed_up_in_3_days", "met|2025-05"),
        ("missed_followed_up_in_3_days", "missed|2025-06"),
        ("referrals_to_job_starts", "met|2025-04"),
        ("three_meetings_in_28_days", "met|2025-04"),
        ("two_face_to_face_contacts_a_month", "met|2025-04"),
        # in service from the April start until the earnings threshold in June 2026
        ("two_face_to_face_contacts_a_month", "span|2025-04|2026-06"),
        ("welcome_in_14_days", "missed|2025-04"),
    ]
