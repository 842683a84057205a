"""docs/report-examples.md: an example answer of every report, computed here from the report
demo (tests/metrics/test_reports.py), so the docs cannot drift from what the code answers.

Regenerate after changing a report: ``OUTCOMES_WRITE_DOCS=1 .venv/bin/python -m pytest -q
tests/metrics/test_docs_examples.py -k sqlite``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from services.metrics.reports import COLUMNS, SPECS
from tests.metrics.test_reports import CONTRACT, MARCH, PEOPLE, WAGES, Demo, demo

__all__ = ["demo"]  # the fixture
DOC = Path(__file__).parents[2] / "docs" / "report-examples.md"
MAX_ROWS = 8

HEADER = f"""# Example answers of every report

Generated from the report demo by `tests/metrics/test_docs_examples.py` (a test fails when this
file is stale). The contract is `tests/metrics/reports-demo.yaml`: providers `alpha` and
`beta`, sites `north` and `south`, a barrier flag `long_term_unemployed`, two target series, a
KPI with performance levels, a ranking score, a budget, an outcome rate and an average. Seven
participants, recorded as below; then a late referral (A4: referral 01-25, enrollment 01-30)
arrives and A2's job start is corrected to 02-27 (with no wage). The ledger booked 500.00 for
`alpha` (100.00 of it capped) and paid 300.00, and 200.00 for `beta`. Staffing: `alpha` 2.5
WTE and `beta` 1 WTE in March. Every answer is for `month={MARCH}`, asked on 1 April 2026:

    GET /v1/contracts/{CONTRACT}/reports/{{report}}?month={MARCH}

"""
PEOPLE_COLUMNS = (
    "ref", "provider", "site", "long-term unemployed", "referral", "enrollment", "job start",
    "sustained", "hourly wage",
)  # fmt: skip


def person_rows() -> list[str]:
    found = ["| " + " | ".join(PEOPLE_COLUMNS) + " |", "|" + "---|" * len(PEOPLE_COLUMNS)]
    for ref, (provider, site, ltu, dates) in PEOPLE.items():
        cells = [ref, provider, site, str(ltu).lower(), *(d or "" for d in dates)]
        found.append("| " + " | ".join([*cells, WAGES.get(ref, "")]) + " |")
    return found


def cell(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value)
    return text.replace("|", "\\|")


def markdown(demo: Demo) -> str:
    lines = [HEADER.rstrip("\n"), *person_rows(), ""]
    for name, spec in SPECS.items():
        rows = demo.report(name)
        lines += [f"## `{name}`", "", spec.rows[0].upper() + spec.rows[1:] + ".", ""]
        columns = COLUMNS[name]
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += [
            "| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows[:MAX_ROWS]
        ]
        if len(rows) > MAX_ROWS:
            lines += ["", f"… and {len(rows) - MAX_ROWS} more rows ({len(rows)} in all)."]
        lines.append("")
    return "\n".join(lines)


def test_the_report_examples_in_the_docs_are_what_the_code_answers(demo: Demo) -> None:
    expected = markdown(demo)
    if os.environ.get("OUTCOMES_WRITE_DOCS") == "1":
        DOC.write_text(expected)
    assert DOC.read_text() == expected, __doc__
