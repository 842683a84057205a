"""Performance reports: pure functions of the report cube, the rule book and a few inputs.

Every report takes a :class:`ReportContext` and returns rows (plain JSON values; percentages
and money as decimal strings, never floats) with the columns :data:`COLUMNS` names. Counts are
of participants: a participant counts once per stage, in the month it first reached it. The
reporting month is ``context.month``; nothing after it is counted, so last month's pack can be
produced again this month.
"""

from __future__ import annotations

from collections.abc import Callable

from services.metrics.reports.comparison import forecast, money, need_groups, ranking
from services.metrics.reports.context import MoneyFigures, ReportContext, Row, percent
from services.metrics.reports.counts import (
    caseload,
    cohorts,
    contact,
    conversion,
    funnel,
    intervals,
)
from services.metrics.reports.levels import assess_levels, kpis, targets

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

COLUMNS: dict[str, tuple[str, ...]] = {
    "funnel": ("stage", "month", "quarter_to_date", "year_to_date", "contract_to_date"),
    "conversion": (
        "from_stage", "to_stage", "from_participants", "to_participants", "rate_percent",
    ),
    "cohorts": ("cohort", "stage", "participants", "share_of_cohort_percent"),
    "targets": (
        "target_id", "group", "name", "stage", "period", "current", "target", "actual",
        "percent_of_target", "prior_actual", "against_prior", "average_of_previous_3",
        "against_average",
    ),
    "caseload": ("provider_id", "month", "wte", "stage", "participants", "per_wte"),
    "intervals": ("from_stage", "to_stage", "bucket", "participants", "share_percent"),
    "contact": ("days_since_last_contact", "participants", "as_of"),
    "kpis": (
        "kpi_id", "name", "period", "due", "met", "pending", "percent", "minimum_level",
        "lower_level", "level", "escalated", "rag",
    ),
    "ranking": (
        "rank", "provider_id", "score", "score_percent", "from_participants", "to_participants",
    ),
    "forecast": (
        "stage", "to_date", "monthly_run_rate", "months_remaining", "forecast_at_contract_end",
    ),
    "need_groups": (
        "attribute", "value", "stage", "participants", "share_of_first_stage_percent",
    ),
    "money": (
        "provider_id", "currency", "accrued", "paid", "capped", "unpaid", "budget",
        "accrued_percent_of_budget",
    ),
}  # fmt: skip

__all__ = [
    "COLUMNS",
    "REPORTS",
    "MoneyFigures",
    "ReportContext",
    "Row",
    "assess_levels",
    "percent",
]
