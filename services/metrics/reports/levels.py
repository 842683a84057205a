"""Reports against declared expectations: target series, and KPI performance levels."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.metrics.facts import KPI
from services.metrics.reports.context import ReportContext, Row, percent, stage_months
from services.metrics.reports.registry import report
from shared.periods import (
    Period,
    label_of,
    labels_between,
)

RAG = {"met": "green", "minor": "amber", "major": "red", "not_assessed": "grey"}


# ---- targets -----------------------------------------------------------------------------------
@report(
    "targets",
    columns=(
        "target_id",
        "group",
        "name",
        "stage",
        "period",
        "current",
        "target",
        "actual",
        "percent_of_target",
        "difference",
        "prior_actual",
        "against_prior",
        "average_of_previous_3",
        "against_average",
        "percent_of_average",
    ),
    rows=(
        "per target series (and `group`: the site or provider of a series set per site or "
        "provider) and period up to the month's: target, actual (per period, or summed year or "
        "contract to date for cumulative series), % of target, actual minus target, the prior "
        "period's actual and "
        "up/down/same, the average of the three previous periods, up/down/same against it and "
        "the actual as a % of it (32 against an average of 42 is 76.2)"
    ),
    position=20,
    dashboard=True,
)
def targets(context: ReportContext) -> list[Row]:
    """Each series' actual against its values, for the whole contract or per site or
    provider (a row per group and period)."""
    whole = stage_months(context)
    grouped = {
        "site": stage_months(context, by=("site",)),
        "provider": stage_months(context, by=("provider_id",)),
    }
    rows = []
    year_starts = context.rulebook.year_starts
    for series in context.rulebook.targets:
        current = label_of(series.period, context.month, year_starts)
        for group, values in series.tables().items():
            if series.measure == "staffing":
                actual = _staff_by_label(context, series.period, group)
            else:
                months = (
                    whole.get(str(series.stage), Counter())
                    if series.by is None
                    else grouped[series.by].get((group, str(series.stage)), Counter())
                )
                actual = _actuals_by_label(series.period, months, year_starts)
            if series.cumulative != "period":
                actual = _cumulated(series, values, actual, year_starts)
            for label in sorted(x for x in values if x <= current):
                rows.append(_target_row(series, group, values, label, actual, current))
    return rows


def _staff_by_label(context: ReportContext, period: Period, provider: str) -> Counter[str]:
    """Staff (WTE) per period up to the reporting month: the providers' (or one provider's)
    monthly figures added up, averaged over the period's months that have a figure."""
    per_month: dict[str, Decimal] = defaultdict(Decimal)
    for (posted_by, month), wte in context.staffing.items():
        if month <= context.month and provider in ("", posted_by):
            per_month[month] += wte
    by_label: dict[str, list[Decimal]] = defaultdict(list)
    for month, wte in per_month.items():
        by_label[label_of(period, month, context.rulebook.year_starts)].append(wte)
    return Counter({label: sum(wtes) / len(wtes) for label, wtes in by_label.items()})


def _actuals_by_label(period: Period, months: Counter[str], year_starts: int) -> Counter[str]:
    found: Counter[str] = Counter()
    for month, n in months.items():
        found[label_of(period, month, year_starts)] += n
    return found


def _cumulated(
    series: Any, values: dict[str, Any], actual: Counter[str], year_starts: int
) -> Counter[str]:
    """Each period's actual plus every earlier one's of the same reporting year (year to
    date), or of the whole contract (contract to date), for every label a target names."""
    found: Counter[str] = Counter()
    named = [*values, *actual]
    for label in labels_between(series.period, min(named), max(named)):
        found[label] = sum(
            n
            for earlier, n in actual.items()
            if earlier <= label
            and (
                series.cumulative == "contract_to_date"
                or _year_of(series.period, earlier, year_starts)
                == _year_of(series.period, label, year_starts)
            )
        )
    return found


def _year_of(period: Period, label: str, year_starts: int) -> str:
    if period is Period.MONTH:
        return label_of(Period.YEAR, label, year_starts)
    return label[:4]  # quarters and years are labelled by their reporting year


def _target_row(
    series: Any, group: str, values: dict[str, Any], label: str, actual: Counter[str], current: str
) -> Row:
    prior_label = series.period.previous(label)
    earlier = [prior_label]
    for _ in range(2):
        earlier.append(series.period.previous(earlier[-1]))
    average = Decimal(sum(actual[x] for x in earlier)) / 3
    return {
        "target_id": series.id,
        "group": group or None,
        "name": series.name,
        "stage": series.stage,
        "period": label,
        "current": label == current,
        "target": values[label],  # as the rule book wrote it: 2, or "53.5"
        "actual": _shown(actual[label]),
        "percent_of_target": percent(actual[label], Decimal(str(values[label]))),
        "difference": _difference(actual[label], values[label]),
        "prior_actual": _shown(actual[prior_label]),
        "against_prior": _direction(Decimal(actual[label]), Decimal(actual[prior_label])),
        "average_of_previous_3": str(average.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)),
        "against_average": _direction(Decimal(actual[label]), average),
        "percent_of_average": percent(actual[label], average),
    }


def _shown(value: int | Decimal) -> int | str:
    """A count as it is; staff (WTE) as a decimal string to two places (never a float)."""
    return str(value.quantize(Decimal("0.01"))) if isinstance(value, Decimal) else value


def _difference(actual: int | Decimal, target: int | str) -> int | str:
    """Actual minus target: a whole number when both are, else a decimal string with the
    places of the more precise (``53.5`` targets and counts give ``-3.5``; WTE ``-0.50``)."""
    if isinstance(target, int) and isinstance(actual, int):
        return actual - target
    shown = _shown(actual)
    return str(Decimal(str(shown)) - Decimal(str(target)))


def _direction(value: Decimal, baseline: Decimal) -> str:
    return "up" if value > baseline else "down" if value < baseline else "same"


# ---- KPIs and levels ---------------------------------------------------------------------------
@report(
    "kpis",
    columns=(
        "kpi_id",
        "name",
        "period",
        "due",
        "met",
        "pending",
        "percent",
        "minimum_level",
        "lower_level",
        "level",
        "escalated",
        "rag",
    ),
    rows=(
        "per KPI and period: items due (a participant's start event in that period, or each start "
        "event with `each_start`, and either the end event(s) or the deadline passed), met within "
        "the deadline (with `count`, the count-th end event), still pending, the %, the level and "
        "the RAG; a `conversion` KPI counts the pending as due, a `rate` KPI is due for everyone "
        "in service in the period and met with `rate` end events in it"
    ),
    position=30,
    dashboard=True,
)
def kpis(context: ReportContext) -> list[Row]:
    totals = context.cube.totals(context.filters, KPI)
    rows = []
    for kpi in context.rulebook.kpis:
        tally = _kpi_tally(context, kpi, totals)
        if not tally:
            continue
        current = label_of(kpi.period, context.month, context.rulebook.year_starts)
        labels = labels_between(kpi.period, min(tally), current)
        rows.extend(assess_levels(kpi, labels, tally))
    return rows


def _kpi_tally(context: ReportContext, kpi: Any, totals: dict[Any, int]) -> dict[str, Counter[str]]:
    """met / missed / pending per period of the start event, decided at the reference date."""
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    year_starts = context.rulebook.year_starts
    current = label_of(kpi.period, context.month, year_starts)
    for (kpi_id, status), n in totals.items():
        if kpi_id != kpi.id:
            continue
        state, where = status.split("|", 1)
        if state == "span":  # a rate KPI: due in every period of the subject's time in service
            first, last = where.split("|")
            last = current if last == "open" else min(last, current)
            for label in labels_between(kpi.period, first, last) if first <= last else []:
                tally[label]["due"] += n
            continue
        if state == "open":
            start = dt.date.fromisoformat(where)
            late = (context.reference_date - start).days > kpi.within_days
            state, where = ("missed" if late else "pending"), kpi.period.label(start, year_starts)
        if where <= current:
            tally[where][state] += n
    return tally


def assess_levels(kpi: Any, labels: list[str], tally: dict[str, Counter[str]]) -> list[Row]:
    """Each period's level; a minor failure after two periods below the minimum is major."""
    rows: list[Row] = []
    below_minimum_run = 0
    for label in labels:
        counts = tally.get(label, Counter())
        due = counts["met"] + counts["missed"]
        if kpi.rate is not None:  # due: every subject in service in the period
            due = counts["due"]
        if kpi.conversion:  # everyone who started is due; not converted yet counts against
            due += counts["pending"]
        share = percent(counts["met"], due)
        level = _level(kpi, counts["met"], due)
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


def _level(kpi: Any, met: int, due: int) -> str:
    """Judged on the exact ratio, never the rounded percentage a table shows: 188 of 209 is
    89.952...%, shown as 90.0 but below a 90 % minimum (met x 100 < level x due)."""
    if not due:
        return "not_assessed"
    if kpi.lower_level is not None and met * 100 < Decimal(kpi.lower_level) * due:
        return "major"
    if kpi.minimum_level is not None and met * 100 < Decimal(kpi.minimum_level) * due:
        return "minor"
    return "met"
