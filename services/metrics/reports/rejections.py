"""Rejected claims by reason code, and by the participants' cohorts."""

from __future__ import annotations

from collections import Counter

from services.metrics.reports.context import ReportContext, Row
from services.metrics.reports.registry import report
from shared.periods import Period, label_of

ALL_COHORTS = "*"


@report(
    "rejections",
    columns=(
        "reason_code",
        "cohort",
        "month",
        "quarter_to_date",
        "year_to_date",
        "contract_to_date",
    ),
    rows=(
        "per reason code of the rule book (and per cohort of the participants whose claims were "
        "rejected, `*` for all): rejections decided in the month, the quarter to date, the "
        "reporting year to date and the contract to date, to the month's end"
    ),
    position=75,
    dashboard=True,
)
def rejections(context: ReportContext) -> list[Row]:
    year_starts = context.rulebook.year_starts
    quarter = label_of(Period.QUARTER, context.month, year_starts)
    year = label_of(Period.YEAR, context.month, year_starts)
    counted: dict[tuple[str, str], Counter[str]] = {}
    for rejection in context.rejections:
        if rejection.month > context.month:
            continue
        for cohort in (ALL_COHORTS, rejection.cohort):
            tally = counted.setdefault((rejection.reason_code, cohort), Counter())
            tally["contract_to_date"] += 1
            tally["month"] += rejection.month == context.month
            tally["quarter_to_date"] += (
                label_of(Period.QUARTER, rejection.month, year_starts) == quarter
            )
            tally["year_to_date"] += label_of(Period.YEAR, rejection.month, year_starts) == year
    codes = list(context.rulebook.verification.reason_codes)
    codes += sorted({code for code, _ in counted} - set(codes))  # a code since withdrawn
    rows = []
    for code in codes:
        cohorts = sorted(cohort for c, cohort in counted if c == code and cohort != ALL_COHORTS)
        for cohort in (ALL_COHORTS, *cohorts):
            tally = counted.get((code, cohort), Counter())
            rows.append(
                {
                    "reason_code": code,
                    "cohort": cohort,
                    "month": tally["month"],
                    "quarter_to_date": tally["quarter_to_date"],
                    "year_to_date": tally["year_to_date"],
                    "contract_to_date": tally["contract_to_date"],
                }
            )
    return rows
