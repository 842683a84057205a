"""Performance reports: pure functions of the report cube, the rule book and a few inputs.

Every report takes a :class:`ReportContext` and returns rows (plain JSON values; percentages
and money as decimal strings, never floats). Counts are of participants: a participant counts
once per stage, in the month it first reached it. The reporting month is ``context.month``;
nothing after it is counted, so last month's pack can be produced again this month.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.metrics.cube import CubeReader, Filters
from services.metrics.facts import CONTACT, INTERVAL, INTERVAL_BUCKETS, KPI, STAGE, ReportingPlan
from services.metrics.periods import (
    add_months,
    label_of,
    labels_between,
    month_of,
    months_between,
    previous_label,
)
from shared.money import exact_minor, format_minor
from shared.rules.model import Period, RuleBook

Row = dict[str, Any]
CONTACT_BUCKETS = ((0, 7, "0-7"), (8, 14, "8-14"), (15, 30, "15-30"), (31, 60, "31-60"))
CONTACT_LAST_BUCKET = "61+"
RAG = {"met": "green", "minor": "amber", "major": "red", "not_assessed": "grey"}


@dataclass(frozen=True)
class MoneyFigures:
    outcome_minor: int = 0
    paid_minor: int = 0
    capped_minor: int = 0


@dataclass(frozen=True)
class ReportContext:
    rulebook: RuleBook
    plan: ReportingPlan
    cube: CubeReader
    filters: Filters
    month: str
    reference_date: dt.date
    staffing: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    money: dict[str, MoneyFigures] = field(default_factory=dict)


def percent(numerator: int | Decimal, denominator: int | Decimal) -> str | None:
    if not denominator:
        return None
    value = Decimal(numerator) * 100 / Decimal(denominator)
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def stage_months(context: ReportContext, by: tuple[str, ...] = ()) -> dict[Any, Counter[str]]:
    """Participants by (group, stage) → month first reached, up to the reporting month."""
    found: dict[Any, Counter[str]] = defaultdict(Counter)
    for key, n in context.cube.totals(context.filters, STAGE, by).items():
        *group, stage, month = key
        if month <= context.month:
            found[(*group, stage) if group else stage][month] += n
    return found


# ---- counts and conversion ---------------------------------------------------------------------
def funnel(context: ReportContext) -> list[Row]:
    by_stage = stage_months(context)
    quarter, year = label_of(Period.QUARTER, context.month), context.month[:4]
    rows = []
    for stage in context.plan.stages:
        months = by_stage.get(stage, Counter())
        rows.append(
            {
                "stage": stage,
                "month": months[context.month],
                "quarter_to_date": sum(
                    n for m, n in months.items() if label_of(Period.QUARTER, m) == quarter
                ),
                "year_to_date": sum(n for m, n in months.items() if m[:4] == year),
                "contract_to_date": sum(months.values()),
            }
        )
    return rows


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


def cohorts(context: ReportContext) -> list[Row]:
    by_cohort = stage_months(context, by=("cohort",))
    names = sorted({cohort for cohort, _ in by_cohort})
    rows = []
    for cohort in names:
        base = sum(by_cohort.get((cohort, context.plan.cohort_stage), Counter()).values())
        for stage in context.plan.stages:
            reached = sum(by_cohort.get((cohort, stage), Counter()).values())
            rows.append(
                {
                    "cohort": cohort,
                    "stage": stage,
                    "participants": reached,
                    "share_of_cohort_percent": percent(reached, base),
                }
            )
    return rows


# ---- targets -----------------------------------------------------------------------------------
def targets(context: ReportContext) -> list[Row]:
    by_stage = stage_months(context)
    rows = []
    for series in context.rulebook.targets:
        months = by_stage.get(series.stage, Counter())
        actual = _actuals_by_label(series.period, months)
        current = label_of(series.period, context.month)
        for label in sorted(x for x in series.values if x <= current):
            rows.append(_target_row(series, label, actual, current))
    return rows


def _actuals_by_label(period: Period, months: Counter[str]) -> Counter[str]:
    found: Counter[str] = Counter()
    for month, n in months.items():
        found[label_of(period, month)] += n
    return found


def _target_row(series: Any, label: str, actual: Counter[str], current: str) -> Row:
    prior_label = previous_label(series.period, label)
    earlier = [prior_label]
    for _ in range(2):
        earlier.append(previous_label(series.period, earlier[-1]))
    average = Decimal(sum(actual[x] for x in earlier)) / 3
    return {
        "target_id": series.id,
        "name": series.name,
        "stage": series.stage,
        "period": label,
        "current": label == current,
        "target": series.values[label],
        "actual": actual[label],
        "percent_of_target": percent(actual[label], series.values[label]),
        "prior_actual": actual[prior_label],
        "against_prior": _direction(Decimal(actual[label]), Decimal(actual[prior_label])),
        "average_of_previous_3": str(average.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)),
        "against_average": _direction(Decimal(actual[label]), average),
    }


def _direction(value: Decimal, baseline: Decimal) -> str:
    return "up" if value > baseline else "down" if value < baseline else "same"


# ---- staff, time between stages, contact ----------------------------------------------
def caseload(context: ReportContext) -> list[Row]:
    by_provider = stage_months(context, by=("provider_id",))
    providers = sorted({provider for provider, _ in by_provider} | _staffed(context))
    rows = []
    for provider in providers:
        wte = context.staffing.get((provider, context.month))
        for stage in context.plan.stages:
            count = by_provider.get((provider, stage), Counter())[context.month]
            per_wte = (Decimal(count) / wte).quantize(Decimal("0.01")) if wte else None
            rows.append(
                {
                    "provider_id": provider,
                    "month": context.month,
                    "wte": str(wte) if wte is not None else None,
                    "stage": stage,
                    "participants": count,
                    "per_wte": str(per_wte) if per_wte is not None else None,
                }
            )
    return rows


def _staffed(context: ReportContext) -> set[str]:
    wanted = context.filters.provider_id
    return {
        provider
        for provider, month in context.staffing
        if month == context.month and wanted in (None, provider)
    }


def intervals(context: ReportContext) -> list[Row]:
    found: Counter[tuple[str, str]] = Counter()
    for (pair, bucket), n in context.cube.totals(context.filters, INTERVAL).items():
        found[(pair, bucket)] += n
    rows = []
    for start, end in context.plan.interval_pairs:
        pair = f"{start}>{end}"
        total = sum(found[(pair, bucket)] for bucket in INTERVAL_BUCKETS)
        for bucket in INTERVAL_BUCKETS:
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


def contact(context: ReportContext) -> list[Row]:
    found: Counter[str] = Counter()
    for (day, _), n in context.cube.totals(context.filters, CONTACT).items():
        days = (context.reference_date - dt.date.fromisoformat(day)).days
        found[_contact_bucket(days)] += n
    labels = [label for _, _, label in CONTACT_BUCKETS] + [CONTACT_LAST_BUCKET]
    as_of = context.reference_date.isoformat()
    return [
        {"days_since_last_contact": label, "participants": found[label], "as_of": as_of}
        for label in labels
    ]


def _contact_bucket(days: int) -> str:
    for low, high, label in CONTACT_BUCKETS:
        if low <= max(days, 0) <= high:
            return label
    return CONTACT_LAST_BUCKET


# ---- KPIs and levels ---------------------------------------------------------------------------
def kpis(context: ReportContext) -> list[Row]:
    totals = context.cube.totals(context.filters, KPI)
    rows = []
    for kpi in context.rulebook.kpis:
        tally = _kpi_tally(context, kpi, totals)
        if not tally:
            continue
        current = label_of(kpi.period, context.month)
        labels = labels_between(kpi.period, min(tally), current)
        rows.extend(assess_levels(kpi, labels, tally))
    return rows


def _kpi_tally(context: ReportContext, kpi: Any, totals: dict[Any, int]) -> dict[str, Counter[str]]:
    """met / missed / pending per period of the start event, decided at the reference date."""
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    for (kpi_id, status), n in totals.items():
        if kpi_id != kpi.id:
            continue
        state, where = status.split("|", 1)
        if state == "open":
            start = dt.date.fromisoformat(where)
            late = (context.reference_date - start).days > kpi.within_days
            state, where = ("missed" if late else "pending"), kpi.period.label(start)
        if where <= label_of(kpi.period, context.month):
            tally[where][state] += n
    return tally


def assess_levels(kpi: Any, labels: list[str], tally: dict[str, Counter[str]]) -> list[Row]:
    """Each period's level; a minor failure after two periods below the minimum is major."""
    rows: list[Row] = []
    below_minimum_run = 0
    for label in labels:
        counts = tally.get(label, Counter())
        due = counts["met"] + counts["missed"]
        share = percent(counts["met"], due)
        level = _level(kpi, share)
        escalated = level == "minor" and below_minimum_run >= 2
        below_minimum_run = below_minimum_run + 1 if level in ("minor", "major") else 0
        final = "major" if escalated else level
        rows.append(
            {
                "kpi_id": kpi.id,
                "name": kpi.name,
                "period": label,
                "due": due,
                "met": counts["met"],
                "pending": counts["pending"],
                "percent": share,
                "minimum_level": kpi.minimum_level,
                "lower_level": kpi.lower_level,
                "level": final,
                "escalated": escalated,
                "rag": RAG[final],
            }
        )
    return rows


def _level(kpi: Any, share: str | None) -> str:
    if share is None:
        return "not_assessed"
    value = Decimal(share)
    if kpi.lower_level is not None and value < Decimal(kpi.lower_level):
        return "major"
    if kpi.minimum_level is not None and value < Decimal(kpi.minimum_level):
        return "minor"
    return "met"


# ---- comparison, forecast, need groups, money -----------------------------------------
def ranking(context: ReportContext) -> list[Row]:
    plan, score = context.plan, context.rulebook.reporting.score
    start, end = (score.start, score.end) if score else (plan.stages[0], plan.stages[-1])
    everyone = replace(context, filters=replace(context.filters, provider_id=None))
    by_provider = stage_months(everyone, by=("provider_id",))
    scored = []
    for provider in sorted(context.rulebook.provider_ids()):
        base = sum(by_provider.get((provider, start), Counter()).values())
        reached = sum(by_provider.get((provider, end), Counter()).values())
        scored.append((provider, base, reached, percent(reached, base)))
    order = sorted(scored, key=lambda s: (s[3] is None, -Decimal(s[3] or 0), s[0]))
    rows, previous, rank = [], None, 0
    for position, (provider, base, reached, share) in enumerate(order, start=1):
        rank = rank if share == previous and position > 1 else position
        previous = share
        rows.append(
            {
                "rank": rank,
                "provider_id": provider,
                "score": f"{start}>{end}",
                "score_percent": share,
                "from_participants": base,
                "to_participants": reached,
            }
        )
    return rows


def forecast(context: ReportContext) -> list[Row]:
    end = context.rulebook.contract_end
    remaining = max(0, months_between(context.month, month_of(end))) if end else None
    by_stage = stage_months(context)
    rows = []
    for stage in context.plan.stages:
        months = by_stage.get(stage, Counter())
        recent = sum(months[add_months(context.month, -i)] for i in range(3))
        rate = (Decimal(recent) / 3).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        to_date = sum(months.values())
        at_end = None
        if remaining is not None:
            at_end = int((to_date + rate * remaining).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        rows.append(
            {
                "stage": stage,
                "to_date": to_date,
                "monthly_run_rate": str(rate),
                "months_remaining": remaining,
                "forecast_at_contract_end": at_end,
            }
        )
    return rows


def need_groups(context: ReportContext) -> list[Row]:
    by_flags = stage_months(context, by=("flags",))
    groups: Counter[tuple[str, str, str]] = Counter()
    for (flags, stage), months in by_flags.items():
        for pair in filter(None, flags.split(";")):
            name, value = pair.split("=", 1)
            groups[(name, value, stage)] += sum(months.values())
    first = context.plan.stages[0]
    rows = []
    for name, value in sorted({(n, v) for n, v, _ in groups}):
        for stage in context.plan.stages:
            rows.append(
                {
                    "attribute": name,
                    "value": value,
                    "stage": stage,
                    "participants": groups[(name, value, stage)],
                    "share_of_first_stage_percent": percent(
                        groups[(name, value, stage)], groups[(name, value, first)]
                    ),
                }
            )
    return rows


def money(context: ReportContext) -> list[Row]:
    currency = context.rulebook.currency
    budget_minor = _budget_minor(context.rulebook)
    rows = [
        _money_row(provider, figures, currency, None)
        for provider, figures in sorted(context.money.items())
    ]
    total = MoneyFigures(
        sum(f.outcome_minor for f in context.money.values()),
        sum(f.paid_minor for f in context.money.values()),
        sum(f.capped_minor for f in context.money.values()),
    )
    rows.append(_money_row("*", total, currency, budget_minor))
    return rows


def _money_row(provider: str, figures: MoneyFigures, currency: str, budget: int | None) -> Row:
    return {
        "provider_id": provider,
        "currency": currency,
        "accrued": format_minor(figures.outcome_minor, currency),
        "paid": format_minor(figures.paid_minor, currency),
        "capped": format_minor(figures.capped_minor, currency),
        "unpaid": format_minor(figures.outcome_minor - figures.paid_minor, currency),
        "budget": format_minor(budget, currency) if budget is not None else None,
        "accrued_percent_of_budget": percent(figures.outcome_minor, budget) if budget else None,
    }


def _budget_minor(rulebook: RuleBook) -> int | None:
    text = rulebook.reporting.budget or next(
        (cap.amount for cap in rulebook.caps if cap.scope == "contract"), None
    )
    return exact_minor(text, rulebook.currency) if text is not None else None


REPORTS: dict[str, Callable[[ReportContext], list[Row]]] = {
    "funnel": funnel,
    "conversion": conversion,
    "cohorts": cohorts,
    "targets": targets,
    "caseload": caseload,
    "intervals": intervals,
    "contact": contact,
    "kpis": kpis,
    "ranking": ranking,
    "forecast": forecast,
    "need_groups": need_groups,
    "money": money,
}
