"""The provider ranking: on the exact score (never the rounded one shown), ties sharing a rank
(1, 2, 3, 3, 5), and on a composite score (a weighted sum of conversions)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from services.metrics.facts import STAGE, CubeKey, plan_for
from services.metrics.readmodels.cube import Filters, MemoryCube
from services.metrics.reports import REPORTS, ReportContext
from shared.rules.model import RuleBookInvalid, parse_rulebook

PROVIDERS = ("a", "b", "c", "d", "e")
BOOK: dict[str, Any] = {
    "contract_id": "rank-demo",
    "name": "Rank demo",
    "currency": "GBP",
    "effective_from": "2026-01-01",
    "providers": [{"id": p, "name": p.upper()} for p in PROVIDERS],
    "event_types": {"referral": {}, "job_start": {}, "job_sustained": {}},
    "reporting": {"score": {"start": "referral", "end": "job_start"}},
}


def ranking(
    reached: dict[str, dict[str, int]], score: dict[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """``reached``: provider → stage → participants who reached it."""
    book = {**BOOK, "reporting": {"score": score}} if score else BOOK
    rulebook = parse_rulebook(book)
    counts: Counter[CubeKey] = Counter()
    for provider, stages in reached.items():
        for stage, n in stages.items():
            counts[CubeKey(STAGE, provider, "", "2026-01", "", stage, "2026-01")] += n
    context = ReportContext(
        rulebook, plan_for(rulebook), MemoryCube(counts), Filters(), "2026-01", dt.date(2026, 2, 1)
    )
    return [
        (row["rank"], row["provider_id"], row["score_percent"], row["score"])
        for row in REPORTS["ranking"](context)
    ]


def conversions(**providers: tuple[int, int]) -> dict[str, dict[str, int]]:
    return {p: {"referral": base, "job_start": to} for p, (base, to) in providers.items()}


def test_ties_share_a_rank_and_the_next_rank_skips() -> None:
    rows = ranking(conversions(a=(4, 3), b=(8, 6), c=(3, 2), d=(6, 4), e=(2, 1)))
    assert [(rank, provider, shown) for rank, provider, shown, _ in rows] == [
        (1, "a", "75.0"),
        (1, "b", "75.0"),
        (3, "c", "66.7"),
        (3, "d", "66.7"),
        (5, "e", "50.0"),
    ]


def test_providers_whose_rounded_scores_agree_are_ranked_on_the_exact_ones() -> None:
    """74.96 % and 75.04 % both show as 75.0; they are not tied, and the higher is first."""
    rows = ranking(conversions(a=(10_000, 7_496), b=(10_000, 7_504)))
    assert [(rank, provider, shown) for rank, provider, shown, _ in rows[:2]] == [
        (1, "b", "75.0"),
        (2, "a", "75.0"),
    ]
    assert [row[:2] for row in rows[2:]] == [(3, "c"), (3, "d"), (3, "e")]  # no score: last


def test_a_composite_score_is_the_weighted_sum_of_its_conversions() -> None:
    score = {
        "parts": [
            {"start": "referral", "end": "job_start", "weight": "0.6"},
            {"start": "job_start", "end": "job_sustained", "weight": "0.4"},
        ]
    }
    reached = {
        "a": {"referral": 4, "job_start": 3, "job_sustained": 1},  # .6 * 3/4 + .4 * 1/3
        "b": {"referral": 10, "job_start": 5, "job_sustained": 5},  # .6 * 1/2 + .4 * 1 = .7
        "c": {"referral": 5, "job_start": 0},  # nobody to sustain: no score
    }
    rows = ranking(reached, score)
    assert [row[:3] for row in rows] == [
        (1, "b", "70.0"),
        (2, "a", "58.3"),  # 0.45 + 0.1333… = 0.58333…
        (3, "c", None),
        (3, "d", None),
        (3, "e", None),
    ]
    assert rows[0][3] == "0.6*referral>job_start + 0.4*job_start>job_sustained"


@pytest.mark.parametrize(
    ("score", "field"),
    [
        ({"start": "referral"}, "reporting.score"),
        (
            {"start": "referral", "end": "job_start",
             "parts": [{"start": "referral", "end": "job_start", "weight": "1"}]},
            "reporting.score",
        ),
        ({"parts": [{"start": "referral", "end": "job_start", "weight": "0"}]},
         "reporting.score.parts.0.weight"),
        ({"parts": [{"start": "referral", "end": "job_start", "weight": "lots"}]},
         "reporting.score.parts.0.weight"),
        ({"parts": [{"start": "referral", "end": "exit", "weight": "1"}]},
         "reporting.score.parts.0.end"),
    ],
)  # fmt: skip
def test_a_score_that_is_neither_one_conversion_nor_a_composite_is_refused(
    score: dict[str, Any], field: str
) -> None:
    with pytest.raises(RuleBookInvalid) as refused:
        parse_rulebook({**BOOK, "reporting": {"score": score}})
    assert field in {problem.field for problem in refused.value.problems}
