"""Splitting reports: one report per provider, site, cohort, caseworker or flag value, in one
answer.

``split=site`` runs each report once per site (within the request's other filters) and gives
its rows with two leading columns: ``split_by`` (``site``) and ``split_value`` (``north``). The
groups are the rule book's providers, or the sites, cohorts, caseworkers (their pseudonyms) or
values of a flag attribute (``split=flag:long_term_unemployed``) that participants with a live
stage event have in the cube as known at the report's moment. A report that is not kept along
that dimension (money is kept per provider only; a provider's WTE has no site) is given once,
for the whole contract within the other filters, with ``split_value`` ``*``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from services.metrics.facts import CASEWORKER, EVENTS, UNKNOWN, ReportingPlan
from services.metrics.readmodels.cube import Filters, flag_values
from services.metrics.reports import REPORTS, SPECS, ReportContext, Row
from shared.errors import FieldProblem, InvalidInput

SPLIT_COLUMNS = ("split_by", "split_value")
WHOLE = "*"
MAX_GROUPS = 400  # a split that would give more groups is refused (422 naming ``split``)
DIMENSIONS = ("provider", "site", "cohort", "caseworker", "flag")


@dataclass(frozen=True)
class Split:
    dimension: str  # one of DIMENSIONS
    flag: str | None = None  # the flag attribute, when dimension is "flag"

    @classmethod
    def parse(cls, text: str) -> Split:
        dimension, _, flag = text.partition(":")
        if dimension not in DIMENSIONS or bool(flag) != (dimension == "flag"):
            raise InvalidInput(
                f"unknown split {text!r}",
                [
                    FieldProblem(
                        "split", "one of provider, site, cohort, caseworker or flag:<attribute>"
                    )
                ],
            )
        return cls(dimension, flag or None)

    @property
    def label(self) -> str:
        return f"flag:{self.flag}" if self.flag else self.dimension


def flag_names(plan: ReportingPlan) -> set[str]:
    """The contract's flag attributes (need and barrier flags of its stage events)."""
    return {name for _, name in plan.flags}


def groups(context: ReportContext, split: Split) -> list[tuple[str, Filters]]:
    """Each group's value and filters (the request's filters narrowed to it)."""
    wanted = context.filters
    if split.dimension == "provider":
        providers = sorted(context.rulebook.provider_ids())
        values = [p for p in providers if wanted.provider_id in (None, p)]
        return [(value, replace(wanted, provider_id=value)) for value in values]
    column = "flags" if split.dimension in ("flag", "caseworker") else split.dimension
    present = {key[0] for key in context.cube.totals(wanted, EVENTS, (column,))}
    found: list[tuple[str, Filters]]
    if split.dimension == "flag":
        assert split.flag is not None
        names = flag_names(context.plan)
        if split.flag not in names:
            raise InvalidInput(
                f"{split.flag!r} is not a flag attribute of this contract",
                [FieldProblem("split", f"flags: {', '.join(sorted(names)) or '-'}")],
            )
        if wanted.flag is not None and wanted.flag[0] != split.flag:
            raise InvalidInput(
                "a report can be split by one flag while filtered by the same flag only",
                [FieldProblem("split", f"the filter is on {wanted.flag[0]}")],
            )
        values = sorted({flag_values(flags).get(split.flag, UNKNOWN) for flags in present})
        found = [(value, replace(wanted, flag=(split.flag, value))) for value in values]
    elif split.dimension == "caseworker":
        if context.plan.caseworker is None:
            raise InvalidInput(
                "this contract names no caseworker attribute",
                [FieldProblem("split", "the rule book sets no reporting.caseworker_attribute")],
            )
        if wanted.caseworker is not None:
            raise InvalidInput(
                "a report filtered by a caseworker cannot be split by caseworker",
                [FieldProblem("split", "drop the caseworker filter, or the split")],
            )
        values = sorted({flag_values(flags).get(CASEWORKER, UNKNOWN) for flags in present})
        found = [(value, replace(wanted, caseworker=value)) for value in values]
    elif split.dimension == "site":
        found = [(value, replace(wanted, site=value)) for value in sorted(present)]
    else:
        found = [(value, replace(wanted, cohort=value)) for value in sorted(present)]
    if len(found) > MAX_GROUPS:
        raise InvalidInput(
            f"split by {split.label} gives {len(found)} groups",
            [FieldProblem("split", f"at most {MAX_GROUPS} groups")],
        )
    return found


def split_sections(
    context: ReportContext,
    split: Split,
    names: list[str],
    narrowed: Callable[[Filters], ReportContext],
) -> dict[str, list[Row]]:
    """Each report's rows per group (``narrowed`` gives the context for a group's filters)."""
    contexts = [(value, narrowed(filters)) for value, filters in groups(context, split)]
    sections: dict[str, list[Row]] = {}
    for name in names:
        build = REPORTS[name]
        if split.dimension in SPECS[name].splits:
            parts = [(value, build(group)) for value, group in contexts]
        else:
            parts = [(WHOLE, build(context))]
        sections[name] = [
            {"split_by": split.label, "split_value": value, **row}
            for value, rows in parts
            for row in rows
        ]
    return sections
