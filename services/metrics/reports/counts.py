"""Counting reports: the funnel, conversion, cohorts, caseload, waits and contact."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

from services.metrics.facts import (
    CONTACT,
    INTERVAL,
    NEVER,
    NO_COHORT,
    NOT_YET,
    contact_at,
    wait_at,
)
from services.metrics.reports.context import ReportContext, Row, percent, stage_months
from services.metrics.reports.registry import report
from shared.periods import Period, first_day, label_of

NEVER_CONTACTED = "never contacted"


# ---- counts and conversion ---------------------------------------------------------------------
@report(
    "funnel",
    columns=("stage", "month", "quarter_to_date", "year_to_date", "contract_to_date"),
    rows=(
        "per stage: participants who first reached it in the month, the quarter to date, the year "
        "to date (the contract's quarter and reporting year: `calendar.year_starts`), and the "
        "contract to date"
    ),
    position=10,
    dashboard=True,
)
def funnel(context: ReportContext) -> list[Row]:
    by_stage = stage_months(context)
    year_starts = context.rulebook.year_starts
    quarter = label_of(Period.QUARTER, context.month, year_starts)
    year = label_of(Period.YEAR, context.month, year_starts)
    rows = []
    for stage in context.plan.stages:
        months = by_stage.get(stage, Counter())
        rows.append(
            {
                "stage": stage,
                "month": months[context.month],
                "quarter_to_date": sum(
                    n
                    for m, n in months.items()
                    if label_of(Period.QUARTER, m, year_starts) == quarter
                ),
                "year_to_date": sum(
                    n for m, n in months.items() if label_of(Period.YEAR, m, year_starts) == year
                ),
                "contract_to_date": sum(months.values()),
            }
        )
    return rows


@report(
    "conversion",
    columns=("from_stage", "to_stage", "from_participants", "to_participants", "rate_percent"),
    rows=(
        "per pair of consecutive stages, and from the first stage to each later one: participants "
        "at each end (contract to date) and the rate"
    ),
    position=50,
    dashboard=True,
)
def conversion(context: ReportContext) -> list[Row]:
    totals = {stage: sum(months.values()) for stage, months in stage_months(context).items()}
    stages = context.plan.stages
    pairs = list(itertools.pairwise(stages))
    pairs += [(stages[0], later) for later in stages[2:]]
    return [
        {
            "from_stage": start,
            "to_stage": end,
            "from_participants": totals.get(start, 0),
            "to_participants": totals.get(end, 0),
            "rate_percent": percent(totals.get(end, 0), totals.get(start, 0)),
        }
        for start, end in pairs
    ]


@report(
    "cohorts",
    columns=("cohort", "stage", "participants", "share_of_cohort_percent"),
    rows=(
        "per cohort (the month participants reached the cohort stage, or with `period=quarter` "
        "or `year` its quarter or reporting year) and stage: participants who reached it, and "
        "their share of the cohort"
    ),
    position=55,
    dashboard=True,
)
def cohorts(context: ReportContext) -> list[Row]:
    period, year_starts = context.period, context.rulebook.year_starts
    by_cohort: dict[tuple[str, str], int] = Counter()
    for (cohort, stage), months in stage_months(context, by=("cohort",)).items():
        grouped = cohort if cohort == NO_COHORT else label_of(period, cohort, year_starts)
        by_cohort[(grouped, stage)] += sum(months.values())
    rows = []
    for cohort in sorted({cohort for cohort, _ in by_cohort}):
        base = by_cohort.get((cohort, context.plan.cohort_stage), 0)
        for stage in context.plan.stages:
            reached = by_cohort.get((cohort, stage), 0)
            rows.append(
                {
                    "cohort": cohort,
                    "stage": stage,
                    "participants": reached,
                    "share_of_cohort_percent": percent(reached, base),
                }
            )
    return rows


# ---- staff, time between stages, contact ----------------------------------------------
@report(
    "caseload",
    columns=("provider_id", "month", "period", "wte", "stage", "participants", "per_wte"),
    rows=(
        "per provider and stage, over `period` (the month by default; with `period=quarter` or "
        "`year` the contract's quarter or reporting year holding the month, to the month's end): "
        "participants who reached the stage in it, the provider's WTE (the average of the "
        "months in it with a posted figure), and participants per WTE"
    ),
    position=80,
    dashboard=True,
    splits=frozenset({"provider"}),  # a provider's WTE has no site, cohort or flag
)
def caseload(context: ReportContext) -> list[Row]:
    year_starts = context.rulebook.year_starts
    label = label_of(context.period, context.month, year_starts)

    def in_period(month: str) -> bool:
        return month <= context.month and label_of(context.period, month, year_starts) == label

    by_provider = stage_months(context, by=("provider_id",))
    posted: dict[str, list[Decimal]] = {}
    for (provider, month), figure in sorted(context.staffing.items()):
        if in_period(month) and context.filters.provider_id in (None, provider):
            posted.setdefault(provider, []).append(figure)
    providers = sorted({provider for provider, _ in by_provider} | set(posted))
    rows = []
    for provider in providers:
        figures = posted.get(provider)
        wte = sum(figures, Decimal(0)) / len(figures) if figures else None
        for stage in context.plan.stages:
            months = by_provider.get((provider, stage), Counter())
            count = sum(n for month, n in months.items() if in_period(month))
            per_wte = _hundredths(Decimal(count) / wte) if wte else None
            rows.append(
                {
                    "provider_id": provider,
                    "month": context.month,
                    "period": label,
                    "wte": _wte_text(wte),
                    "stage": stage,
                    "participants": count,
                    "per_wte": str(per_wte) if per_wte is not None else None,
                }
            )
    return rows


def _wte_text(wte: Decimal | None) -> str | None:
    """A posted figure as it was posted; an average of several to two places."""
    if wte is None:
        return None
    return str(wte) if wte == _hundredths(wte) else str(_hundredths(wte))


def _hundredths(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@report(
    "intervals",
    columns=("from_stage", "to_stage", "bucket", "participants", "share_percent"),
    rows=(
        "per pair of consecutive stages (and each KPI's pair), at the end of the month: "
        "participants who had reached the first stage by then, by their wait for the second "
        "(in `reporting.wait_buckets`, by default ≤1 week, 1-2, 2-3, 3-4, 4+ weeks), or not yet "
        "reached by the month's end"
    ),
    position=85,
    dashboard=True,
)
def intervals(context: ReportContext) -> list[Row]:
    found: Counter[tuple[str, str]] = Counter()
    for (pair, wait), n in context.cube.totals(context.filters, INTERVAL).items():
        bucket = wait_at(wait, context.month)
        if bucket is not None:
            found[(pair, bucket)] += n
    rows = []
    for start, end in context.plan.interval_pairs:
        pair = f"{start}>{end}"
        buckets = (*context.plan.waits.labels, NOT_YET)
        total = sum(found[(pair, bucket)] for bucket in buckets)
        for bucket in buckets:
            rows.append(
                {
                    "from_stage": start,
                    "to_stage": end,
                    "bucket": bucket,
                    "participants": found[(pair, bucket)],
                    "share_percent": percent(found[(pair, bucket)], total),
                }
            )
    return rows


@report(
    "contact",
    columns=("days_since_last_contact", "participants", "as_of"),
    rows=(
        "participants in service at the end of the month (or on the reference day, if earlier) by "
        "days since their last contact then (in `reporting.contact_buckets`, by default 0-7, 8-14, "
        "15-30, 31-60, 61+), and those never "
        "contacted by then; participants who had reached a closed stage "
        "(`reporting.closed_stages`, by default the last) are left out"
    ),
    position=90,
    dashboard=True,
)
def contact(context: ReportContext) -> list[Row]:
    month_end = Period.MONTH.bounds(first_day(context.month))[1]
    as_of = min(month_end, context.reference_date)
    found: Counter[str] = Counter()
    for (since, until), n in context.cube.totals(context.filters, CONTACT).items():
        last = contact_at(since, until, context.month)
        if last == NEVER:
            found[NEVER_CONTACTED] += n
        elif isinstance(last, dt.date):
            found[context.plan.contact.of(max(0, (as_of - last).days))] += n
    labels = [*context.plan.contact.labels, NEVER_CONTACTED]
    return [
        {"days_since_last_contact": label, "participants": found[label], "as_of": str(as_of)}
        for label in labels
    ]
