"""KPIs beyond one deadline, as each participant contributes to them: a count of events within
a window, and every occurrence of a start event followed up in time."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from services.metrics.facts import KPI, LiveEvent, contributions, participant_facts, plan_for
from shared.rules.model import RuleBookInvalid, parse_rulebook

D = dt.date
BOOK: dict[str, Any] = {
    "contract_id": "kpi-kinds",
    "name": "KPI kinds",
    "currency": "GBP",
    "effective_from": "2025-01-01",
    "providers": [{"id": "p", "name": "P"}],
    "event_types": {
        "referral": {},
        "meeting": {},
        "missed_appointment": {},
        "contact": {},
    },
    "kpis": [
        {
            "id": "three_meetings_in_28_days",
            "name": "3 meetings within 28 days of referral",
            "start": "referral",
            "end": "meeting",
            "within_days": 28,
            "count": 3,
            "minimum_level": "80",
        },
        {
            "id": "missed_followed_up",
            "name": "Every missed appointment followed up within 3 days",
            "start": "missed_appointment",
            "end": "contact",
            "within_days": 3,
            "each_start": True,
        },
    ],
}


def kpi_statuses(events: list[tuple[str, dt.date]]) -> Counter[tuple[str, str]]:
    plan = plan_for(parse_rulebook(BOOK))
    live = [LiveEvent(event_type, day, {}) for event_type, day in events]
    found: Counter[tuple[str, str]] = Counter()
    for key, n in contributions(plan, participant_facts(plan, "p", live)).items():
        if key.measure == KPI:
            found[(key.k1, key.k2)] += n
    return found


def test_the_third_meeting_within_28_days_meets_the_kpi() -> None:
    referral = ("referral", D(2025, 3, 1))
    meetings = [("meeting", D(2025, 3, 2)), ("meeting", D(2025, 3, 10))]
    assert kpi_statuses([referral, *meetings, ("meeting", D(2025, 3, 29))]) == Counter(
        {("three_meetings_in_28_days", "met|2025-03"): 1}  # day 28: in time
    )
    assert kpi_statuses([referral, *meetings, ("meeting", D(2025, 3, 30))]) == Counter(
        {("three_meetings_in_28_days", "missed|2025-03"): 1}  # day 29: late
    )
    assert kpi_statuses([referral, *meetings]) == Counter(
        {("three_meetings_in_28_days", "open|2025-03-01"): 1}  # still due: judged when reported
    )
    before = [("meeting", D(2025, 2, 20)), ("meeting", D(2025, 2, 21))]
    assert kpi_statuses([*before, referral, ("meeting", D(2025, 3, 5))]) == Counter(
        {("three_meetings_in_28_days", "open|2025-03-01"): 1}  # meetings before do not count
    )


def test_every_missed_appointment_is_due_on_its_own() -> None:
    events = [
        ("missed_appointment", D(2025, 4, 1)),
        ("contact", D(2025, 4, 3)),  # 2 days: in time
        ("missed_appointment", D(2025, 4, 10)),
        ("contact", D(2025, 4, 14)),  # 4 days: late
        ("missed_appointment", D(2025, 5, 30)),  # not followed up yet
    ]
    assert kpi_statuses(events) == Counter(
        {
            ("missed_followed_up", "met|2025-04"): 1,
            ("missed_followed_up", "missed|2025-04"): 1,
            ("missed_followed_up", "open|2025-05-30"): 1,
        }
    )


def test_a_count_of_the_start_type_itself_is_refused() -> None:
    document = {**BOOK, "kpis": [{**BOOK["kpis"][0], "end": "referral"}]}
    with pytest.raises(RuleBookInvalid) as caught:
        parse_rulebook(document)
    assert [p.field for p in caught.value.problems] == ["kpis.0.count"]


RATE_BOOK: dict[str, Any] = {
    **BOOK,
    "event_types": {**BOOK["event_types"], "enrollment": {}, "job_sustained": {}},
    "kpis": [
        {
            "id": "two_contacts_a_month",
            "name": "Two face-to-face contacts a month",
            "start": "enrollment",
            "end": "contact",
            "within_days": 0,
            "rate": 2,
            "minimum_level": "80",
        }
    ],
    "reporting": {"closed_stages": ["job_sustained"]},
}


def rate_statuses(events: list[tuple[str, dt.date]]) -> list[str]:
    plan = plan_for(parse_rulebook(RATE_BOOK))
    live = [LiveEvent(event_type, day, {}) for event_type, day in events]
    return sorted(
        key.k2
        for key in contributions(plan, participant_facts(plan, "p", live))
        if key.measure == KPI
    )


def test_a_rate_is_due_every_month_in_service_and_met_by_two_contacts() -> None:
    events = [
        ("enrollment", D(2025, 3, 10)),
        ("contact", D(2025, 3, 1)),  # before the start: not counted
        ("contact", D(2025, 3, 12)),
        ("contact", D(2025, 3, 20)),  # March: 2, met
        ("contact", D(2025, 4, 5)),  # April: 1, not met; May: none
        ("contact", D(2025, 6, 1)),
        ("contact", D(2025, 6, 2)),  # June: 2, met
        ("job_sustained", D(2025, 6, 15)),  # closed: due no longer after June
        ("contact", D(2025, 7, 1)),
        ("contact", D(2025, 7, 2)),
    ]
    assert rate_statuses(events) == ["met|2025-03", "met|2025-06", "span|2025-03|2025-06"]
    assert rate_statuses(events[:6]) == ["met|2025-03", "span|2025-03|open"]


def test_a_rate_report_counts_months_without_any_event_as_due() -> None:
    from types import SimpleNamespace

    from services.metrics.reports.levels import _kpi_tally, assess_levels

    book = parse_rulebook(RATE_BOOK)
    [kpi] = book.kpis
    totals = {
        (kpi.id, "span|2025-03|open"): 2,  # two participants in service since March
        (kpi.id, "met|2025-03"): 2,
        (kpi.id, "met|2025-04"): 1,
    }
    context = SimpleNamespace(rulebook=book, month="2025-05", reference_date=D(2025, 6, 1))
    tally = _kpi_tally(context, kpi, totals)  # type: ignore[arg-type]
    rows = assess_levels(kpi, ["2025-03", "2025-04", "2025-05"], tally)
    # May had no contact at all for either: both due, neither met
    assert [(r["period"], r["due"], r["met"], r["percent"], r["level"]) for r in rows] == [
        ("2025-03", 2, 2, "100.0", "met"),
        ("2025-04", 2, 1, "50.0", "minor"),
        ("2025-05", 2, 0, "0.0", "minor"),
    ]
