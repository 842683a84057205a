"""The report registry: each report is registered once, beside its code, with what it shows.

``@report(...)`` on a report function records its name, its columns, what a row is (for
``docs/metrics.md``), its place in the pack and whether the dashboard shows it. The routes
(JSON and CSV), the dashboard and the docs index all read this registry, so adding a report is
one module under ``services/metrics/reports/`` plus its test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.metrics.reports.context import ReportContext, Row

Build = Callable[[ReportContext], list[Row]]
ALL_SPLITS = frozenset({"provider", "site", "cohort", "caseworker", "flag"})


@dataclass(frozen=True)
class ReportSpec:
    name: str
    build: Build
    columns: tuple[str, ...]
    rows: str  # what one row is, in a sentence (the docs' index)
    position: int  # its place in the pack: the docs, the API's list and the dashboard
    dashboard: bool = False  # drawn on the dashboard (a table, unless it has its own section)
    compares_providers: bool = False  # a provider sees its own row of it only
    splits: frozenset[str] = ALL_SPLITS  # the dimensions it is kept along (``split=``)


_REGISTRY: dict[str, ReportSpec] = {}


def report(
    name: str,
    *,
    columns: tuple[str, ...],
    rows: str,
    position: int,
    dashboard: bool = False,
    compares_providers: bool = False,
    splits: frozenset[str] = ALL_SPLITS,
) -> Callable[[Build], Build]:
    def register(build: Build) -> Build:
        if name in _REGISTRY:
            raise ValueError(f"report {name!r} is registered twice")
        taken = [other for other, spec in _REGISTRY.items() if spec.position == position]
        if taken:
            raise ValueError(f"report {name!r}: position {position} is {taken[0]!r}'s")
        spec = ReportSpec(
            name, build, columns, rows, position, dashboard, compares_providers, splits
        )
        _REGISTRY[name] = spec
        return build

    return register


def registered() -> dict[str, ReportSpec]:
    """Every report, in its place in the pack."""
    return dict(sorted(_REGISTRY.items(), key=lambda item: item[1].position))
