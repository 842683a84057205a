"""Per-caseworker figures (the rule book's `reporting.caseworker_attribute`): each caseworker's
caseload at the month's end and the participants who reached each stage in the period.

A participant's caseworker is the one named on its first event of the attribute's type, as its
pseudonym (`w_…`): the claims service keeps no staff reference in clear, and a provider puts
names to its own pseudonyms with `POST /v1/contracts/{id}/caseworker-ids`. Participants with no
such event yet (or none naming a caseworker) are counted under `unknown`, so the rows of a
stage add up to the funnel's.
"""

from __future__ import annotations

from collections import Counter

from services.metrics.facts import CASEWORKER, CONTACT, STAGE, UNKNOWN, contact_at
from services.metrics.readmodels.cube import flag_values
from services.metrics.reports.context import ReportContext, Row
from services.metrics.reports.registry import report
from shared.periods import label_of


@report(
    "caseworkers",
    columns=("provider_id", "caseworker", "period", "caseload", "stage", "participants"),
    rows=(
        "per caseworker (its pseudonym, or `unknown`) and stage, when the rule book names a "
        "`reporting.caseworker_attribute`: the caseworker's caseload (its participants in service "
        "at the end of the month: reached a stage by then and no closed stage), and its "
        "participants who reached the stage in `period` (the month by default; with "
        "`period=quarter` or `year` the quarter or reporting year holding the month, to its end)"
    ),
    position=82,
    dashboard=True,
)
def caseworkers(context: ReportContext) -> list[Row]:
    if context.plan.caseworker is None:
        return []
    year_starts = context.rulebook.year_starts
    label = label_of(context.period, context.month, year_starts)
    by = ("provider_id", "flags")

    def caseworker(flags: str) -> str:
        return flag_values(flags).get(CASEWORKER, UNKNOWN)

    reached: Counter[tuple[str, str, str]] = Counter()
    for (provider, flags, stage, month), n in context.cube.totals(
        context.filters, STAGE, by
    ).items():
        if month <= context.month and label_of(context.period, month, year_starts) == label:
            reached[(provider, caseworker(flags), stage)] += n
    caseload: Counter[tuple[str, str]] = Counter()
    for (provider, flags, since, until), n in context.cube.totals(
        context.filters, CONTACT, by
    ).items():
        if contact_at(since, until, context.month) is not None:
            caseload[(provider, caseworker(flags))] += n
    present = sorted({(p, c) for p, c, _ in reached} | set(caseload))
    return [
        {
            "provider_id": provider,
            "caseworker": worker,
            "period": label,
            "caseload": caseload[(provider, worker)],
            "stage": stage,
            "participants": reached[(provider, worker, stage)],
        }
        for provider, worker in present
        for stage in context.plan.stages
    ]
