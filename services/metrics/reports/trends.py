"""Trends: each stage as a monthly series over the contract to date, against its targets."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from services.metrics.reports.context import ReportContext, Row, percent, stage_months
from services.metrics.reports.registry import report
from shared.periods import Period, label_of, labels_between, month_of

MAX_MONTHS = 240


@report(
    "trends",
    columns=(
        "stage",
        "month",
        "participants",
        "contract_to_date",
        "target_id",
        "target",
        "actual",
        "percent_of_target",
    ),
    rows=(
        "per stage and month, from the contract's first month (`effective_from`) to the "
        "reporting month: participants who first reached the stage that month and the contract "
        "to date; with each monthly whole-contract target series on the stage, a row per series "
        "with its target for the month and the actual it is compared with (the month's, or the "
        "year or contract to date for a cumulative series); without one, the actual is the "
        "month's participants"
    ),
    position=97,
    dashboard=True,
)
def trends(context: ReportContext) -> list[Row]:
    by_stage = stage_months(context)
    # the contract's first month (its first version's effective date; an amendment's is later),
    # or the first month anybody reached a stage, whichever is earlier
    reached = [month for months in by_stage.values() for month in months]
    start = min([context.contract_start or month_of(context.rulebook.effective_from), *reached])
    if start > context.month:
        return []
    months = labels_between(Period.MONTH, start, context.month, limit=MAX_MONTHS)
    year_starts = context.rulebook.year_starts
    rows: list[Row] = []
    for stage in context.plan.stages:
        counts = by_stage.get(stage, Counter())
        series = [
            s
            for s in context.rulebook.targets
            if s.measure == "stage"
            and s.stage == stage
            and s.period is Period.MONTH
            and s.by is None
        ]
        to_date = sum(n for month, n in counts.items() if month < months[0])
        year_to_date: Counter[str] = Counter()
        for month in months:
            to_date += counts[month]
            year = label_of(Period.YEAR, month, year_starts)
            year_to_date[year] += counts[month]
            base = {
                "stage": stage,
                "month": month,
                "participants": counts[month],
                "contract_to_date": to_date,
            }
            if not series:
                rows.append({**base, "target_id": None, "target": None,
                             "actual": counts[month], "percent_of_target": None})  # fmt: skip
            for one in series:
                target = one.values.get(month)
                actual = {
                    "period": counts[month],
                    "year_to_date": year_to_date[year],
                    "contract_to_date": to_date,
                }[one.cumulative]
                rows.append(
                    {
                        **base,
                        "target_id": one.id,
                        "target": target,
                        "actual": actual,
                        "percent_of_target": (
                            percent(actual, Decimal(str(target))) if target is not None else None
                        ),
                    }
                )
    return rows
