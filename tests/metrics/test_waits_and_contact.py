"""Waits and contact for a month are the state at that month's end: what had happened by then,
counted to then (a regression test each: both counted the future, and contact was counted to the
day of the request); participants never contacted are their own row."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from services.metrics.facts import (
    CubeKey,
    LiveEvent,
    contributions,
    participant_facts,
    plan_for,
)
from services.metrics.readmodels.cube import Filters, MemoryCube
from services.metrics.reports import REPORTS, ReportContext
from shared.rules.model import RuleBookInvalid, parse_rulebook

D = dt.date
BOOK: dict[str, Any] = {
    "contract_id": "contact-demo",
    "name": "Contact demo",
    "currency": "GBP",
    "effective_from": "2025-01-01",
    "providers": [{"id": "p", "name": "P"}],
    "event_types": {"referral": {}, "contact": {}, "exit": {}},
    "reporting": {"contact_events": ["contact"], "closed_stages": ["exit"]},
}
RULEBOOK = parse_rulebook(BOOK)
PLAN = plan_for(RULEBOOK)

PEOPLE = {
    # referred in January, first contacted in March, seen again in April, left in June
    "seen_late": [("referral", D(2026, 1, 20)), ("contact", D(2026, 3, 3)),
                  ("contact", D(2026, 4, 28)), ("exit", D(2026, 6, 2))],
    # referred in February, never contacted
    "never": [("referral", D(2026, 2, 10))],
    # contacted twice in January, then left in February
    "left": [("referral", D(2026, 1, 2)), ("contact", D(2026, 1, 5)),
             ("contact", D(2026, 1, 30)), ("exit", D(2026, 2, 14))],
}  # fmt: skip


def cube() -> MemoryCube:
    total: Counter[CubeKey] = Counter()
    for events in PEOPLE.values():
        live = [LiveEvent(kind, day, {}) for kind, day in events]
        total.update(contributions(PLAN, participant_facts(PLAN, "p", live)))
    return MemoryCube(total)


TODAY = D(2026, 11, 30)


def contact(month: str, today: dt.date = TODAY) -> dict[str, Any]:
    context = ReportContext(RULEBOOK, PLAN, cube(), Filters(), month, today)
    rows = REPORTS["contact"](context)
    found = {
        row["days_since_last_contact"]: row["participants"] for row in rows if row["participants"]
    }
    return {"as_of": rows[0]["as_of"], **found}


def test_each_month_end_sees_the_last_contact_before_it() -> None:
    # end of January: "left" seen 01-30 (1 day); "seen_late" referred, not contacted yet
    assert contact("2026-01") == {"as_of": "2026-01-31", "0-7": 1, "never contacted": 1}
    # end of February: "left" has left; "never" joins the never-contacted
    assert contact("2026-02") == {"as_of": "2026-02-28", "never contacted": 2}
    # end of March: "seen_late" seen 03-03 (28 days)
    assert contact("2026-03") == {"as_of": "2026-03-31", "15-30": 1, "never contacted": 1}
    # end of May: its last contact is 04-28 (33 days)
    assert contact("2026-05") == {"as_of": "2026-05-31", "31-60": 1, "never contacted": 1}
    # from June it has left; "never" is still never contacted
    assert contact("2026-06") == {"as_of": "2026-06-30", "never contacted": 1}
    assert contact("2026-10") == {"as_of": "2026-10-31", "never contacted": 1}


def test_the_current_month_is_counted_to_the_reference_day() -> None:
    assert contact("2026-05", today=D(2026, 5, 10)) == {
        "as_of": "2026-05-10",
        "8-14": 1,
        "never contacted": 1,
    }


def test_before_anyone_started_nobody_is_counted() -> None:
    assert contact("2025-12") == {"as_of": "2025-12-31"}


def test_a_wait_is_not_yet_until_the_month_of_its_second_stage() -> None:
    book = {**BOOK, "reporting": {}}
    rulebook = parse_rulebook(book)
    plan = plan_for(rulebook)
    live = [LiveEvent("referral", D(2026, 1, 30), {}), LiveEvent("contact", D(2026, 2, 2), {})]
    counts = MemoryCube(contributions(plan, participant_facts(plan, "p", live)))

    def waits(month: str) -> dict[str, int]:
        context = ReportContext(rulebook, plan, counts, Filters(), month, D(2026, 11, 30))
        return {
            row["bucket"]: row["participants"]
            for row in REPORTS["intervals"](context)
            if row["from_stage"] == "referral" and row["participants"]
        }

    assert waits("2025-12") == {}
    assert waits("2026-01") == {"not_yet": 1}
    assert waits("2026-02") == {"<=1w": 1}


def test_bucket_edges_declared_in_the_rule_book() -> None:
    """Waits in days (up to 3, 4 to 10, over 10) and contact in weeks (up to 1, up to 4, more),
    as a contract's pack lays them out."""
    book = {
        **BOOK,
        "reporting": {
            **BOOK["reporting"],
            "wait_buckets": {"unit": "days", "edges": [3, 10]},
            "contact_buckets": {"unit": "weeks", "edges": [1, 4]},
        },
    }
    rulebook = parse_rulebook(book)
    plan = plan_for(rulebook)
    total: Counter[CubeKey] = Counter()
    for events in PEOPLE.values():
        live = [LiveEvent(kind, day, {}) for kind, day in events]
        total.update(contributions(plan, participant_facts(plan, "p", live)))
    context = ReportContext(rulebook, plan, MemoryCube(total), Filters(), "2026-05", TODAY)
    waits = [
        (row["bucket"], row["participants"])
        for row in REPORTS["intervals"](context)
        if (row["from_stage"], row["to_stage"]) == ("referral", "contact")
    ]
    # "seen_late" waited 42 days, "left" 3; "never" is not yet contacted
    assert waits == [("<=3d", 1), ("4-10d", 0), ("11d+", 1), ("not_yet", 1)]
    contact_rows = [
        (r["days_since_last_contact"], r["participants"]) for r in REPORTS["contact"](context)
    ]
    # "seen_late": 33 days at the end of May
    assert contact_rows == [("0-7", 0), ("8-28", 0), ("29+", 1), ("never contacted", 1)]


@pytest.mark.parametrize(
    ("buckets", "field"),
    [
        ({"unit": "days", "edges": [7, 7]}, "reporting.wait_buckets.edges.1"),
        ({"unit": "days", "edges": [14, 7]}, "reporting.wait_buckets.edges.1"),
        ({"unit": "days", "edges": []}, "reporting.wait_buckets.edges"),
        ({"unit": "days", "edges": [0]}, "reporting.wait_buckets.edges.0"),
        ({"unit": "months", "edges": [1]}, "reporting.wait_buckets.unit"),
        ({"unit": "weeks", "edges": [6000]}, "reporting.wait_buckets.edges"),
        ({"edges": list(range(1, 14))}, "reporting.wait_buckets.edges"),
    ],
)
def test_bucket_edges_that_do_not_make_buckets_are_refused(
    buckets: dict[str, Any], field: str
) -> None:
    with pytest.raises(RuleBookInvalid) as caught:
        parse_rulebook({**BOOK, "reporting": {"wait_buckets": buckets}})
    assert [problem.field for problem in caught.value.problems] == [field]
