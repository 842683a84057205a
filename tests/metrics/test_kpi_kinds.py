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
