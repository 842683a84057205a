"""The report registry: each report registered once, and everything that lists reports (the
routes, CSV columns, the dashboard, the docs index) reads it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.metrics import dashboard
from services.metrics.application import Report, ReportRequest
from services.metrics.readmodels.cube import Filters
from services.metrics.reports import COLUMNS, DOCS_END, DOCS_START, REPORTS, SPECS, docs_index
from services.metrics.reports.context import ReportContext, Row
from services.metrics.reports.registry import _REGISTRY, registered, report

ROOT = Path(__file__).resolve().parents[2]


def test_every_report_is_registered_once_with_its_columns() -> None:
    assert list(REPORTS) == list(SPECS) == list(COLUMNS)
    assert len({spec.position for spec in SPECS.values()}) == len(SPECS)
    assert all(spec.columns and spec.rows for spec in SPECS.values())


def test_a_name_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        report("funnel", columns=("x",), rows="x", position=999)(lambda context: [])


def test_a_position_taken_by_another_report_is_refused() -> None:
    with pytest.raises(ValueError, match="position 10 is 'funnel'"):
        report("other", columns=("x",), rows="x", position=10)(lambda context: [])
    assert "other" not in SPECS and "other" not in registered()


def documented_figures() -> dict[str, list[str]]:
    """Each report's columns as docs/metrics.md's "How each figure is computed" lists them."""
    text = (ROOT / "docs" / "metrics.md").read_text()
    section = text.split("<!-- figures -->", 1)[1].split("<!-- end of figures -->", 1)[0]
    found: dict[str, list[str]] = {}
    for part in section.split("#### ")[1:]:
        heading, _, table = part.partition("\n")
        rows = [line for line in table.splitlines() if line.startswith("| `")]
        cells = [row.split(" | ")[0].removeprefix("| ") for row in rows]
        found[heading.strip("` ")] = [
            name.strip("` ") for cell in cells for name in cell.split(",")
        ]
    return found


def test_every_figure_of_every_report_says_how_it_is_computed() -> None:
    documented = documented_figures()
    assert list(documented) == list(COLUMNS), "a report per heading, in the pack's order"
    for name, columns in COLUMNS.items():
        assert sorted(documented[name]) == sorted(columns), name  # each once, nothing else


def test_docs_index_is_generated_from_the_registry() -> None:
    written = (ROOT / "docs" / "metrics.md").read_text()
    start, end = written.index(DOCS_START), written.index(DOCS_END) + len(DOCS_END)
    assert written[start:end] == docs_index(), "regenerate: python -m services.metrics.reports"


@pytest.fixture
def extra_report() -> Iterator[str]:
    """A report registered the way a new module would register one, removed afterwards."""

    def arrears(context: ReportContext) -> list[Row]:
        return [{"provider_id": "alpha", "owed": "12.50"}]

    report(
        "arrears",
        columns=("provider_id", "owed"),
        rows="per provider: what it owes",
        position=1_000,
        dashboard=True,
    )(arrears)
    try:
        yield "arrears"
    finally:
        _REGISTRY.pop("arrears")


def test_a_new_report_reaches_the_dashboard_with_no_dashboard_change(extra_report: str) -> None:
    assert extra_report in registered()
    request = ReportRequest("c", Filters(None, None, None), "2026-03", None)
    page = dashboard.render(
        Report(
            request,
            "Demo",
            "2026-03",
            dt.date(2026, 3, 31),
            {extra_report: [{"provider_id": "alpha", "owed": "12.50"}]},
        )
    )
    assert '<section id="arrears"><h2>Arrears</h2>' in page
    assert 'data-figure="arrears|0|owed">12.50<' in page
