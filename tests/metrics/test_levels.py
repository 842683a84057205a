"""KPI performance levels: below the minimum level is a minor failure, below the lower level a
major one, and a third consecutive period below the minimum counts as major."""

from __future__ import annotations

from collections import Counter

from services.metrics.reports import assess_levels
from shared.rules.model import Kpi

KPI = Kpi(
    id="contact_in_7_days",
    name="Initial contact within 7 days",
    start="referral",
    end="enrollment",
    within_days=7,
    minimum_level="80",
    lower_level="60",
)
MET, MINOR, MAJOR, NONE = (9, 1), (7, 3), (5, 5), (0, 0)  # (met, missed) out of 10


def levels(*periods: tuple[int, int]) -> list[tuple[str, bool]]:
    labels = [f"2026-{month:02d}" for month in range(1, len(periods) + 1)]
    tally = {
        label: Counter({"met": met, "missed": missed})
        for label, (met, missed) in zip(labels, periods, strict=True)
    }
    return [(row["level"], row["escalated"]) for row in assess_levels(KPI, labels, tally)]


def test_the_thresholds_themselves() -> None:
    assert levels(MET, MINOR, MAJOR, NONE) == [
        ("met", False),
        ("minor", False),
        ("major", False),
        ("not_assessed", False),
    ]
    exactly = levels((8, 2), (6, 4), (79, 21), (59, 41))
    assert exactly == [("met", False), ("minor", False), ("minor", False), ("major", False)]


def test_a_level_compares_the_exact_ratio_not_the_rounded_percentage() -> None:
    kpi = KPI.model_copy(update={"minimum_level": "90", "lower_level": "89.96"})
    labels = ["2026-01", "2026-02"]
    tally = {
        "2026-01": Counter({"met": 188, "missed": 21}),
        "2026-02": Counter({"met": 9, "missed": 1}),
    }
    rows = assess_levels(kpi, labels, tally)
    # 188 / 209 = 89.952...%: shown as 90.0, yet below the 90 % minimum and the 89.96 % lower level
    assert [(r["percent"], r["level"]) for r in rows] == [("90.0", "major"), ("90.0", "met")]


def test_two_minor_failures_stay_minor_and_the_third_is_major() -> None:
    assert levels(MINOR, MINOR) == [("minor", False), ("minor", False)]
    assert levels(MINOR, MINOR, MINOR) == [("minor", False), ("minor", False), ("major", True)]
    assert levels(MINOR, MINOR, MINOR, MINOR)[-1] == ("major", True)


def test_a_met_or_unassessed_period_breaks_the_run() -> None:
    assert levels(MINOR, MINOR, MET, MINOR) == [
        ("minor", False),
        ("minor", False),
        ("met", False),
        ("minor", False),
    ]
    assert levels(MINOR, NONE, MINOR, MINOR)[-1] == ("minor", False)


def test_a_major_failure_counts_in_the_run_below_the_minimum() -> None:
    assert levels(MAJOR, MINOR, MINOR)[-1] == ("major", True)
    assert levels(MINOR, MAJOR, MINOR)[-1] == ("major", True)


def test_a_conversion_rate_counts_those_not_converted_yet_against_it() -> None:
    """Referrals to job starts: 3 converted, 1 past the window, 4 not yet: 3 of 8 is 37.5 %,
    where a deadline KPI would report 3 of 4 and leave the 4 pending out."""
    conversion = KPI.model_copy(
        update={"conversion": True, "minimum_level": "40", "lower_level": "30"}
    )
    tally = {"2026-01": Counter({"met": 3, "missed": 1, "pending": 4})}
    [row] = assess_levels(conversion, ["2026-01"], tally)
    assert (row["due"], row["met"], row["pending"], row["percent"], row["level"]) == (
        8,
        3,
        4,
        "37.5",
        "minor",
    )
    [deadline] = assess_levels(KPI, ["2026-01"], tally)
    assert (deadline["due"], deadline["percent"]) == (4, "75.0")
