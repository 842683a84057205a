"""Outcome rates over the denominators the field declares (the rule book's `reporting.rates`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from services.metrics.facts import NO_COHORT, STAGE
from services.metrics.reports.context import ReportContext, Row, percent
from services.metrics.reports.registry import report
from shared.periods import Period, first_day, label_of


@report(
    "rates",
    columns=(
        "rate_id",
        "name",
        "stage",
        "denominator",
        "cohorts",
        "base",
        "reached",
        "rate_percent",
    ),
    rows=(
        "per rate declared in `reporting.rates`: the cohorts it counts (by the month each "
        "participant reached the cohort stage; `everyone`: all to the month, `period`: those of "
        "the report's period, `due_cohorts`: those whose outcome is due, the cohort month's last "
        "day plus `due_days` on or before the month's end), their participants (the base), how "
        "many of them reached the stage by the month's end, and the rate"
    ),
    position=58,
    dashboard=True,
)
def rates(context: ReportContext) -> list[Row]:
    by_cohort: dict[str, Counter[str]] = {}
    for (cohort, stage, month), n in context.cube.totals(
        context.filters, STAGE, ("cohort",)
    ).items():
        if cohort != NO_COHORT and month <= context.month:
            by_cohort.setdefault(stage, Counter())[cohort] += n
    base_stage = context.plan.cohort_stage
    cohorts = sorted(by_cohort.get(base_stage, Counter()))
    month_end = Period.MONTH.bounds(first_day(context.month))[1]
    year_starts = context.rulebook.year_starts
    current = label_of(context.period, context.month, year_starts)
    rows = []
    for rate in context.rulebook.reporting.rates:
        if rate.denominator == "everyone":
            counted = cohorts
        elif rate.denominator == "period":
            counted = [c for c in cohorts if label_of(context.period, c, year_starts) == current]
        else:
            due = dt.timedelta(days=rate.due_days or 0)
            counted = [c for c in cohorts if _last_day(c) + due <= month_end]
        base = sum(by_cohort.get(base_stage, Counter())[c] for c in counted)
        reached = sum(by_cohort.get(rate.stage, Counter())[c] for c in counted)
        rows.append(
            {
                "rate_id": rate.id,
                "name": rate.name,
                "stage": rate.stage,
                "denominator": rate.denominator,
                "cohorts": f"{counted[0]}..{counted[-1]}" if counted else None,
                "base": base,
                "reached": reached,
                "rate_percent": percent(reached, base),
            }
        )
    return rows


def _last_day(month: str) -> dt.date:
    return Period.MONTH.bounds(first_day(month))[1]
