"""Performance reports: pure functions of the report cube, the rule book and a few inputs.

Every report takes a :class:`ReportContext` and returns rows (plain JSON values; percentages
and money as decimal strings, never floats) with the columns it registers
(:mod:`services.metrics.reports.registry`); every module of this package is imported here, so
a new module's reports are registered with no list to edit. Counts are
of participants: a participant counts once per stage, in the month it first reached it. The
reporting month is ``context.month``; nothing after it is counted, so last month's pack can be
produced again this month.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from services.metrics.reports.context import MoneyFigures, Rejection, ReportContext, Row, percent
from services.metrics.reports.levels import assess_levels
from services.metrics.reports.registry import ReportSpec, registered

for _module in pkgutil.iter_modules(__path__):  # every module registers its own reports
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

SPECS: dict[str, ReportSpec] = registered()
REPORTS: dict[str, Callable[[ReportContext], list[Row]]] = {n: s.build for n, s in SPECS.items()}
COLUMNS: dict[str, tuple[str, ...]] = {name: spec.columns for name, spec in SPECS.items()}

DOCS_START = "<!-- reports: generated from the registry by `python -m services.metrics.reports` -->"
DOCS_END = "<!-- end of reports -->"


def docs_index() -> str:
    """The table of reports in ``docs/metrics.md``, between its markers."""
    lines = [DOCS_START, "| report | rows | on the dashboard |", "|---|---|---|"]
    for name, spec in SPECS.items():
        lines.append(f"| `{name}` | {spec.rows} | {'yes' if spec.dashboard else ''} |")
    return "\n".join([*lines, DOCS_END])


__all__ = [
    "COLUMNS",
    "DOCS_END",
    "DOCS_START",
    "REPORTS",
    "SPECS",
    "MoneyFigures",
    "Rejection",
    "ReportContext",
    "ReportSpec",
    "Row",
    "assess_levels",
    "docs_index",
    "percent",
]
