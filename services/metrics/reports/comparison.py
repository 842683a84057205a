"""Reports that compare and project: ranking, forecast, need groups, money."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from services.metrics.facts import CASEWORKER
from services.metrics.readmodels.cube import flag_values
from services.metrics.reports.context import (
    MoneyFigures,
    ReportContext,
    Row,
    percent,
    provider_name,
    stage_months,
)
from services.metrics.reports.registry import report
from shared.money import exact_minor, format_minor
from shared.periods import Period, add_months, first_day, month_of, months_between
from shared.rules.model import RuleBook


# ---- comparison, forecast, need groups, money -----------------------------------------
@report(
    "ranking",
    columns=(
        "rank",
        "provider_id",
        "provider_name",
        "score",
        "score_percent",
        "from_participants",
        "to_participants",
    ),
    rows=(
        "providers ranked on the declared score (`reporting.score`: a conversion between two "
        "stages, by default first to last, with the participants at each end; or a composite, "
        "the weighted sum of several conversions), compared exactly (the % shown is rounded "
        "half up to one place), ties sharing a rank (1, 2, 3, 3, 5); a provider with nobody "
        "at the start of a conversion has no score and comes last"
    ),
    position=40,
    dashboard=True,
    compares_providers=True,
    splits=frozenset({"site", "cohort", "flag"}),  # providers ranked within each group
)
def ranking(context: ReportContext) -> list[Row]:
    plan, score = context.plan, context.rulebook.reporting.score
    conversions = score.conversions() if score else []
    if not conversions:
        conversions = [(plan.stages[0], plan.stages[-1], "1")]
    label = " + ".join(
        f"{start}>{end}" if len(conversions) == 1 else f"{weight}*{start}>{end}"
        for start, end, weight in conversions
    )
    everyone = replace(context, filters=replace(context.filters, provider_id=None))
    by_provider = stage_months(everyone, by=("provider_id",))

    def reached(provider: str, stage: str) -> int:
        return sum(by_provider.get((provider, stage), Counter()).values())

    scored = []
    for provider in sorted(context.rulebook.provider_ids()):
        counts = [(reached(provider, a), reached(provider, b)) for a, b, _ in conversions]
        exact: Fraction | None = None
        if all(base for base, _ in counts):
            exact = sum(
                (
                    Fraction(Decimal(weight)) * Fraction(to, base)
                    for (_, _, weight), (base, to) in zip(conversions, counts, strict=True)
                ),
                Fraction(0),
            )
        scored.append((provider, exact, counts))
    # ties and order on the exact score, never on the rounded one shown
    order = sorted(scored, key=lambda s: (s[1] is None, -(s[1] or 0), s[0]))
    rows: list[Row] = []
    for position, (provider, exact, counts) in enumerate(order, start=1):
        tied = rows and exact == order[position - 2][1]
        rows.append(
            {
                "rank": rows[-1]["rank"] if tied else position,
                "provider_id": provider,
                "provider_name": provider_name(context.rulebook, provider),
                "score": label,
                "score_percent": None if exact is None else percent(exact.numerator,
                                                                    exact.denominator),
                "from_participants": counts[0][0] if len(counts) == 1 else None,
                "to_participants": counts[0][1] if len(counts) == 1 else None,
            }
        )  # fmt: skip
    return rows


@report(
    "forecast",
    columns=(
        "stage",
        "to_date",
        "monthly_run_rate",
        "months_remaining",
        "forecast_at_contract_end",
    ),
    rows=(
        "per stage: to date, the monthly run rate (average of the last three months), months to "
        "the contract end, and the forecast at the end"
    ),
    position=95,
    dashboard=True,
)
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


@report(
    "need_groups",
    columns=("attribute", "value", "stage", "participants", "share_of_first_stage_percent"),
    rows=(
        "per flag value and stage: participants, and their share of the group's first stage, so "
        "creaming shows"
    ),
    position=60,
    dashboard=True,
)
def need_groups(context: ReportContext) -> list[Row]:
    by_flags = stage_months(context, by=("flags",))
    groups: Counter[tuple[str, str, str]] = Counter()
    for (flags, stage), months in by_flags.items():
        for name, value in flag_values(flags).items():
            if name != CASEWORKER:
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


MONEY_PERIODS = ("month", "quarter_to_date", "year_to_date")


@report(
    "money",
    columns=(
        "provider_id",
        "provider_name",
        "currency",
        "accrued",
        "paid",
        "capped",
        "unpaid",
        "budget",
        "accrued_percent_of_budget",
        *(f"{figure}_{period}" for period in MONEY_PERIODS for figure in ("accrued", "paid")),
    ),
    rows=(
        "per provider and in all (`*`), by the ledger month each transaction is booked in: "
        "accrued (net of reversals), paid, held back by caps and unpaid in the contract to the "
        "end of the month, accrued as a % of the budget (`reporting.budget`, or the contract "
        "cap), and accrued and paid in the month, the quarter to date and the reporting year "
        "to date"
    ),
    position=70,
    dashboard=True,
    splits=frozenset({"provider"}),  # the ledger keeps money per provider only
)
def money(context: ReportContext) -> list[Row]:
    year_starts = context.rulebook.year_starts
    since = {
        "month": context.month,
        "quarter_to_date": month_of(
            Period.QUARTER.bounds(first_day(context.month), year_starts)[0]
        ),
        "year_to_date": month_of(Period.YEAR.bounds(first_day(context.month), year_starts)[0]),
    }
    by_provider: dict[str, dict[str, MoneyFigures]] = {}
    for (provider, booked), figures in context.money.items():
        if booked > context.month:
            continue
        sums = by_provider.setdefault(provider, {})
        for name in ("contract_to_date", *(p for p in MONEY_PERIODS if booked >= since[p])):
            sums[name] = _added(sums.get(name, MoneyFigures()), figures)
    rows = [
        _money_row(context.rulebook, provider, sums, None)
        for provider, sums in sorted(by_provider.items())
    ]
    total: dict[str, MoneyFigures] = {}
    for sums in by_provider.values():
        for name, figures in sums.items():
            total[name] = _added(total.get(name, MoneyFigures()), figures)
    rows.append(_money_row(context.rulebook, "*", total, _budget_minor(context.rulebook)))
    return rows


def _added(one: MoneyFigures, other: MoneyFigures) -> MoneyFigures:
    return MoneyFigures(
        one.outcome_minor + other.outcome_minor,
        one.paid_minor + other.paid_minor,
        one.capped_minor + other.capped_minor,
    )


def _money_row(
    rulebook: RuleBook, provider: str, sums: dict[str, MoneyFigures], budget: int | None
) -> Row:
    currency = rulebook.currency
    figures = sums.get("contract_to_date", MoneyFigures())
    row: Row = {
        "provider_id": provider,
        "provider_name": provider_name(rulebook, provider),
        "currency": currency,
        "accrued": format_minor(figures.outcome_minor, currency),
        "paid": format_minor(figures.paid_minor, currency),
        "capped": format_minor(figures.capped_minor, currency),
        "unpaid": format_minor(figures.outcome_minor - figures.paid_minor, currency),
        "budget": format_minor(budget, currency) if budget is not None else None,
        "accrued_percent_of_budget": percent(figures.outcome_minor, budget) if budget else None,
    }
    for period in MONEY_PERIODS:
        part = sums.get(period, MoneyFigures())
        row[f"accrued_{period}"] = format_minor(part.outcome_minor, currency)
        row[f"paid_{period}"] = format_minor(part.paid_minor, currency)
    return row


def _budget_minor(rulebook: RuleBook) -> int | None:
    text = rulebook.reporting.budget or next(
        (cap.amount for cap in rulebook.caps if cap.scope == "contract"), None
    )
    return exact_minor(text, rulebook.currency) if text is not None else None
