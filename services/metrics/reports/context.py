"""What every report is computed from, and the helpers they share."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any

from services.metrics.facts import STAGE, ReportingPlan
from services.metrics.readmodels.cube import CubeReader, Filters
from shared.periods import Period
from shared.rules.model import RuleBook

Row = dict[str, Any]


@dataclass(frozen=True)
class MoneyFigures:
    outcome_minor: int = 0
    paid_minor: int = 0
    capped_minor: int = 0


@dataclass(frozen=True)
class Rejection:
    """A verifier's rejection, with its participant's cohort and site as known then."""

    reason_code: str
    outcome_id: str
    provider_id: str
    month: str  # of the decision
    cohort: str
    site: str


@dataclass(frozen=True)
class ReportContext:
    rulebook: RuleBook
    plan: ReportingPlan
    cube: CubeReader
    filters: Filters
    month: str
    reference_date: dt.date
    staffing: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    contract_start: str | None = None  # the month of the first version's effective date
    period: Period = Period.MONTH  # the span ``period=`` asks for, to the month's end
    # read only when a report asks (the money table has a row per ledger transaction)
    read_money: Callable[[], dict[tuple[str, str], MoneyFigures]] = dict

    read_rejections: Callable[[], list[Rejection]] = list

    @cached_property
    def money(self) -> dict[tuple[str, str], MoneyFigures]:
        """(provider, ledger month booked in) → its figures."""
        return self.read_money()

    @cached_property
    def rejections(self) -> list[Rejection]:
        """Every rejection known then, within the filters."""
        return self.read_rejections()


ALL_PROVIDERS = "all providers"


def provider_name(rulebook: RuleBook, provider_id: str) -> str:
    """The provider's name in the rule book (its id if the rule book no longer names it)."""
    if provider_id == "*":
        return ALL_PROVIDERS
    return next((p.name for p in rulebook.providers if p.id == provider_id), provider_id)


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
