"""Means and medians of numeric attributes (the rule book's `reporting.averages`): the average
hourly wage of job starts, over any subset the filters or a split name."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

from services.metrics.facts import VALUE
from services.metrics.reports.context import ReportContext, Row
from services.metrics.reports.registry import report
from shared.periods import Period, label_of

SPANS = ("month", "quarter_to_date", "year_to_date", "contract_to_date")
PLACES = Decimal("0.01")


@report(
    "averages",
    columns=(
        "average_id",
        "name",
        "attribute",
        "span",
        "participants",
        "mean",
        "median",
        "minimum",
        "maximum",
    ),
    rows=(
        "per average declared in `reporting.averages` and span (the month, the quarter to date, "
        "the year to date, the contract to date): participants whose first event of the "
        "attribute's type fell in the span with a value, the mean and the median of their values "
        "(half up to two decimal places; the median of an even number is the mean of the middle "
        "two), the least and the greatest"
    ),
    position=62,
    dashboard=True,
)
def averages(context: ReportContext) -> list[Row]:
    by_average: dict[str, dict[str, Counter[Decimal]]] = defaultdict(lambda: defaultdict(Counter))
    for (key, value), n in context.cube.totals(context.filters, VALUE).items():
        average_id, _, month = key.partition("|")
        by_average[average_id][month][Decimal(value)] += n
    year_starts = context.rulebook.year_starts
    quarter = label_of(Period.QUARTER, context.month, year_starts)
    year = label_of(Period.YEAR, context.month, year_starts)

    def in_span(span: str, month: str) -> bool:
        if span == "month":
            return month == context.month
        if span == "quarter_to_date":
            return label_of(Period.QUARTER, month, year_starts) == quarter
        if span == "year_to_date":
            return label_of(Period.YEAR, month, year_starts) == year
        return True

    rows = []
    for average in context.rulebook.reporting.averages:
        months = by_average.get(average.id, {})
        for span in SPANS:
            values: Counter[Decimal] = Counter()
            for month, counted in months.items():
                if month <= context.month and in_span(span, month):
                    values.update(counted)
            rows.append(
                {
                    "average_id": average.id,
                    "name": average.name,
                    "attribute": average.attribute,
                    "span": span,
                    **statistics(values),
                }
            )
    return rows


def statistics(values: Counter[Decimal]) -> Row:
    """Count, mean, median, least and greatest of a multiset of values (exact decimals)."""
    count = sum(values.values())
    if not count:
        return {"participants": 0, "mean": None, "median": None, "minimum": None, "maximum": None}
    distinct = sorted(value for value, n in values.items() if n)
    low, high = _nth(distinct, values, (count - 1) // 2), _nth(distinct, values, count // 2)
    total = sum((value * n for value, n in values.items()), Decimal(0))
    return {
        "participants": count,
        "mean": _rounded(total / count),
        "median": _rounded((low + high) / 2),
        "minimum": _plain(distinct[0]),
        "maximum": _plain(distinct[-1]),
    }


def _nth(distinct: list[Decimal], values: Counter[Decimal], index: int) -> Decimal:
    """The value at ``index`` (from 0) of the multiset in order, walking its distinct values
    (a count per value, never one element per participant)."""
    seen = 0
    for value in distinct:
        seen += values[value]
        if index < seen:
            return value
    raise IndexError(index)


def _rounded(value: Decimal) -> str:
    return str(value.quantize(PLACES, rounding=ROUND_HALF_UP))


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
