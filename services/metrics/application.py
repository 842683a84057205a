"""Metrics use cases: staffing figures, and reports read from the SQL read models.

Reports never replay the event store. A live report reads the cube; an "as known at" report
reads the cube's stored hour-start boundaries before that moment and recomputes, from the
bitemporal event rows, only the participants whose history changed since the last of them (or
rebuilds the whole cube when there is none to start from). The same report functions run on
every reader.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services.metrics import indigo
from services.metrics.domain import CATALOGUE, Staffing, fold_staffing, staffing_id
from services.metrics.errors import ContractNotTracked
from services.metrics.facts import EVENTS, STAGE, ReportingPlan
from services.metrics.indigo import OutcomeMoney, Version
from services.metrics.readmodels.cube import (
    CubeReader,
    Filters,
    SqlCube,
    facts_of,
)
from services.metrics.readmodels.performance import PlanCache, first_rulebook, latest_rulebook
from services.metrics.readmodels.snapshots import cube_known_at, version_known_at
from services.metrics.readmodels.tables import (
    money,
    money_totals,
    outcome_money,
    rejections,
    rulebooks,
)
from services.metrics.reports import REPORTS, MoneyFigures, Rejection, ReportContext, Row
from services.metrics.reports.context import stage_months
from services.metrics.splits import Split, flag_names, split_sections
from shared.errors import FieldProblem, InvalidInput
from shared.eventstore import OutcomesApplication, retrying
from shared.feed.views import Terms
from shared.periods import Period, month_of

CLAIMS_UPSTREAM = "claims"
LEDGER_UPSTREAM = "ledger"
DECISIONS_UPSTREAM = "claims-decisions"  # the claims feed's rejections, on their own position


class MetricsApplication(OutcomesApplication):
    listens = False  # its feed is read by auditors, not long-polled by followers
    name = "metrics"
    catalogue = CATALOGUE

    def report_staffing(
        self, contract_id: str, provider_id: str, month: str, wte: Decimal, actor: str
    ) -> bool:
        """Record a provider's WTE for a month; False when it repeats the figure on record."""

        def command() -> bool:
            staffing = self.load(staffing_id(contract_id, provider_id), Staffing)
            staffing = staffing or Staffing(contract_id, provider_id)
            changed = staffing.report(month, str(wte), actor)
            if changed:
                self.save(staffing)
            return changed

        return retrying(command)

    def staffing(
        self, contract_id: str, provider_ids: list[str], known_at: dt.datetime | None = None
    ) -> dict[tuple[str, str], Decimal]:
        """(provider, month) → WTE, as recorded by ``known_at`` (default: now)."""
        found: dict[tuple[str, str], Decimal] = {}
        for provider_id in provider_ids:
            recorded: list[Any] = list(self.events.get(staffing_id(contract_id, provider_id)))
            if known_at is not None:
                recorded = [e for e in recorded if e.timestamp <= known_at]
            for month, wte in fold_staffing(recorded).items():
                found[(provider_id, month)] = Decimal(wte)
        return found


@dataclass(frozen=True)
class ReportRequest:
    contract_id: str
    filters: Filters = field(default_factory=Filters)
    month: str | None = None
    as_known_at: dt.datetime | None = None
    period: Period = Period.MONTH  # the span of the per-period figures (caseload)
    split: Split | None = None  # one report per provider, site, cohort or flag value


@dataclass(frozen=True)
class Report:
    request: ReportRequest
    contract_name: str
    month: str
    reference_date: dt.date
    sections: dict[str, list[Row]]


class Reporter:
    """Builds report contexts from the read models (one per service, with a plan cache)."""

    def __init__(
        self, engine: Engine, application: MetricsApplication, clock: Callable[[], dt.datetime]
    ) -> None:
        self._engine = engine
        self._application = application
        self._clock = clock
        self._plans = PlanCache()

    def report(self, request: ReportRequest, names: list[str]) -> Report:
        with self._engine.connect() as connection:
            context = self._context(connection, request)
            if request.split is None:
                sections = {name: REPORTS[name](context) for name in names}
            else:

                def narrowed(filters: Filters) -> ReportContext:
                    return self._narrowed(connection, context, request, filters)

                sections = split_sections(context, request.split, names, narrowed)
        return Report(
            request, context.rulebook.name, context.month, context.reference_date, sections
        )

    def indigo(self, contract_id: str, period: Period) -> dict[str, Any]:
        """The contract in the INDIGO data standard's shape (see services/metrics/indigo.py),
        its results and payments per ``period`` to today."""
        with self._engine.connect() as connection:
            context = self._context(connection, ReportRequest(contract_id, period=period))
            documents = connection.execute(
                sa.select(rulebooks.c.version, rulebooks.c.document)
                .where(rulebooks.c.contract_id == contract_id)
                .order_by(rulebooks.c.version)
            ).all()
            versions = [Version(row[0], self._plans.get(row[1])[0]) for row in documents]
            money_rows = [
                OutcomeMoney(*row)
                for row in connection.execute(
                    sa.select(
                        outcome_money.c.outcome_id,
                        outcome_money.c.provider_id,
                        outcome_money.c.booked_period,
                        outcome_money.c.paid_minor,
                        outcome_money.c.claims,
                    ).where(outcome_money.c.contract_id == contract_id)
                )
            ]
            engaged: Mapping[str, int] = stage_months(context).get(context.plan.cohort_stage, {})
        return indigo.export(versions, engaged, money_rows, period, context.reference_date)

    def _context(self, connection: Connection, request: ReportRequest) -> ReportContext:
        known_at = request.as_known_at
        document = latest_rulebook(connection, request.contract_id, known_at)
        if document is None:
            raise ContractNotTracked(request.contract_id)
        rulebook, plan = self._plans.get(document)
        first_document = first_rulebook(connection, request.contract_id, known_at)
        assert first_document is not None  # a contract with a latest version has a first
        first, _ = self._plans.get(first_document)
        start = month_of(first.effective_from)
        end = month_of(rulebook.contract_end) if rulebook.contract_end else None
        reference_date = (known_at or self._clock()).date()
        month = request.month or month_of(reference_date)
        if request.month is not None and not start <= month <= (end or month):
            raise InvalidInput(
                f"month {month} is outside the contract",
                [FieldProblem("month", f"the contract runs from {start} to {end or 'open end'}")],
            )
        flag = request.filters.flag
        if flag is not None and flag[0] not in flag_names(plan):
            raise InvalidInput(
                f"{flag[0]!r} is not a flag attribute of this contract",
                [FieldProblem("flag", f"flags: {', '.join(sorted(flag_names(plan))) or '-'}")],
            )
        if request.filters.caseworker is not None and plan.caseworker is None:
            raise InvalidInput(
                "this contract names no caseworker attribute",
                [FieldProblem("caseworker", "the rule book sets no caseworker_attribute")],
            )
        cube: CubeReader = SqlCube(connection, request.contract_id)
        if known_at is not None:
            version = version_known_at(connection, request.contract_id, known_at)
            assert version is not None  # the rule book known then was found above
            cube = cube_known_at(connection, plan, version, request.contract_id, known_at)
        providers = sorted(rulebook.provider_ids())
        context = ReportContext(
            rulebook=rulebook,
            plan=plan,
            cube=cube,
            filters=request.filters,
            month=month,
            reference_date=reference_date,
            contract_start=start,
            period=request.period,
            staffing=self._application.staffing(request.contract_id, providers, known_at),
        )
        return self._narrowed(connection, context, request, request.filters)

    @staticmethod
    def _narrowed(
        connection: Connection, context: ReportContext, request: ReportRequest, filters: Filters
    ) -> ReportContext:
        """The context for some filters, with money and rejections read within them."""
        contract_id, known_at, plan = request.contract_id, request.as_known_at, context.plan
        return replace(
            context,
            filters=filters,
            read_money=lambda: money_known_at(connection, contract_id, filters, known_at),
            read_rejections=lambda: rejections_known_at(
                connection, plan, contract_id, filters, known_at
            ),
        )


def rejections_known_at(
    connection: Connection,
    plan: ReportingPlan,
    contract_id: str,
    wanted: Filters,
    known_at: dt.datetime | None,
) -> list[Rejection]:
    """The contract's rejections recorded by ``known_at`` (default: now), each with its
    participant's cohort and site from the events known then, within the filters."""
    query = sa.select(
        rejections.c.stream_id,
        rejections.c.provider_id,
        rejections.c.outcome_id,
        rejections.c.reason_code,
        rejections.c.decided_on,
    ).where(rejections.c.contract_id == contract_id)
    if known_at is not None:
        query = query.where(rejections.c.recorded_at <= known_at)
    if wanted.provider_id is not None:
        query = query.where(rejections.c.provider_id == wanted.provider_id)
    rows = connection.execute(query.order_by(rejections.c.position)).all()
    facts = facts_of(connection, plan, {row[0]: row[1] for row in rows}, known_at)
    return [
        Rejection(row[3], row[2], row[1], month_of(row[4]), mine.cohort, mine.site)
        for row in rows
        if wanted.matches_facts(mine := facts[row[0]])
    ]


def money_known_at(
    connection: Connection, contract_id: str, wanted: Filters, known_at: dt.datetime | None
) -> dict[tuple[str, str], MoneyFigures]:
    """Each provider's money per ledger month, as recorded by ``known_at`` (default: now: the
    running totals); of the filters, only the provider applies (the ledger keeps money per
    provider)."""
    table = money_totals if known_at is None else money
    figures = [table.c.outcome_minor, table.c.paid_minor, table.c.capped_minor]
    keys = [table.c.provider_id, table.c.booked_period]
    if known_at is None:
        query = sa.select(*keys, *figures)
    else:  # the transactions recorded by then, summed
        query = sa.select(*keys, *map(sa.func.sum, figures)).group_by(*keys)
        query = query.where(money.c.recorded_at <= known_at)
    query = query.where(table.c.contract_id == contract_id)
    if wanted.provider_id is not None:
        query = query.where(table.c.provider_id == wanted.provider_id)
    return {
        (row[0], row[1]): MoneyFigures(int(row[2]), int(row[3]), int(row[4]))
        for row in connection.execute(query)
    }


# ---- the participant funnel (the first report, read from the cube) ----------------------------
@dataclass
class StageCount:
    participants: int = 0
    events: int = 0


@dataclass
class Funnel:
    contract_id: str
    stages: list[str]
    overall: dict[str, StageCount] = field(default_factory=dict)
    by_provider: dict[str, dict[str, StageCount]] = field(default_factory=dict)
    by_month: dict[str, dict[str, StageCount]] = field(default_factory=dict)


def contract_providers(engine: Engine, contract_id: str) -> list[str]:
    """The contract's providers, from its latest rule book."""
    with engine.connect() as connection:
        document = latest_rulebook(connection, contract_id)
    if document is None:
        raise ContractNotTracked(contract_id)
    return Terms.model_validate(json.loads(document)).provider_ids


_FUNNEL_PLANS = PlanCache()


def funnel(engine: Engine, contract_id: str, provider_id: str | None = None) -> Funnel:
    """Participants and events per stage: overall, per provider, per month of occurrence.
    Read from the report cube: a participant counts in the month it first reached a stage, and
    every live event (corrected as corrected, retracted not at all) in the month it occurred."""
    with engine.connect() as connection:
        document = latest_rulebook(connection, contract_id)
        if document is None:
            raise ContractNotTracked(contract_id)
        cube = SqlCube(connection, contract_id)
        filters = Filters(provider_id=provider_id)
        counted = {
            measure: cube.totals(filters, measure, by=("provider_id",))
            for measure in (STAGE, EVENTS)
        }
    stages = list(_FUNNEL_PLANS.get(document)[1].stages)
    result = Funnel(contract_id, stages, overall={s: StageCount() for s in stages})
    for measure, totals in counted.items():
        for (provider, stage, month), n in totals.items():
            for bucket in (
                result.overall,
                result.by_provider.setdefault(provider, {s: StageCount() for s in stages}),
                result.by_month.setdefault(month, {s: StageCount() for s in stages}),
            ):
                count = bucket.setdefault(stage, StageCount())
                if measure == STAGE:
                    count.participants += n
                else:
                    count.events += n
    result.by_month = dict(sorted(result.by_month.items()))
    result.by_provider = dict(sorted(result.by_provider.items()))
    return result
