"""Trends: each stage as a series of months (or quarters, or years) over the contract to date,
against its targets of that period."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from services.metrics.reports.context import ReportContext, Row, percent, stage_months
from services.metrics.reports.registry import report
from shared.periods import Period, add_months, label_of, labels_between, month_of

MAX_PERIODS = 240  # the latest, at most


@report(
    "trends",
    columns=(
        "stage",
        "month",
        "period",
        "participants",
        "contract_to_date",
        "target_id",
        "target",
        "actual",
        "percent_of_target",
    ),
    rows=(
        "per stage and period (the month, or with `period=quarter` or `year` the contract's "
        "quarter or reporting year), from the contract's first (`effective_from`) to the one "
        "holding the reporting month: participants who first reached the stage in it (to the "
        "reporting month's end; `month` is the period's last month counted) and the contract "
        "to date; with each whole-contract target series of that period on the stage, a row per "
        "series with its target for the period and the actual it is compared with (the "
        "period's, or the year or contract to date for a cumulative series); without one, the "
        "actual is the period's participants"
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
    period, year_starts = context.period, context.rulebook.year_starts

    def label(month: str) -> str:
        return label_of(period, month, year_starts)

    labels = labels_between(period, label(start), label(context.month), limit=MAX_PERIODS)
    rows: list[Row] = []
    for stage in context.plan.stages:
        counts: Counter[str] = Counter()
        for month, n in by_stage.get(stage, Counter()).items():
            counts[label(month)] += n
        series = [
            s
            for s in context.rulebook.targets
            if s.measure == "stage" and s.stage == stage and s.period is period and s.by is None
        ]
        to_date = sum(n for one, n in counts.items() if one < labels[0])
        year_to_date: Counter[str] = Counter()
        for one in labels:
            to_date += counts[one]
            first_month = month_of(period.start_of(one, year_starts))
            year = label_of(Period.YEAR, first_month, year_starts)
            year_to_date[year] += counts[one]
            last_month = min(context.month, add_months(first_month, period.months - 1))
            base = {
                "stage": stage,
                "month": last_month,
                "period": one,
                "participants": counts[one],
                "contract_to_date": to_date,
            }
            if not series:
                rows.append({**base, "target_id": None, "target": None,
                             "actual": counts[one], "percent_of_target": None})  # fmt: skip
            for target_series in series:
                target = target_series.values.get(one)
                actual = {
                    "period": counts[one],
                    "year_to_date": year_to_date[year],
                    "contract_to_date": to_date,
                }[target_series.cumulative]
                rows.append(
                    {
                        **base,
                        "target_id": target_series.id,
                        "target": target,
                        "actual": actual,
                        "percent_of_target": (
                            percent(actual, Decimal(str(target))) if target is not None else None
                        ),
                    }
                )
    return rows
