"""The README's walk-through, run as written against real services."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.processes import Stack, running_stack

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.system


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A walk-through", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the README has no walk-through block"
    return match.group(1)


@pytest.fixture
def sqlite_stack(tmp_path: Path) -> Iterator[Stack]:
    folder = tmp_path / "data"
    folder.mkdir()
    urls = {n: f"sqlite:///{folder / f'{n}.sqlite'}" for n in ("claims", "ledger", "metrics")}
    with running_stack(folder, urls) as stack:
        yield stack


def test_the_readme_walkthrough_works_as_written(sqlite_stack: Stack, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "examples").symlink_to(ROOT / "examples")
    env = sqlite_stack.env() | {
        "CLAIMS": sqlite_stack.urls["claims"],
        "LEDGER": sqlite_stack.urls["ledger"],
        "METRICS": sqlite_stack.urls["metrics"],
        "OUTCOMES": str(Path(sys.executable).parent / "outcomes"),
    }
    script = "set -euo pipefail\n" + walkthrough()
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "registered: ips-employment version 1"
    answers = [json.loads(line) for line in lines if line.startswith("{")]
    balances = next(a for a in answers if "providers" in a)
    funnel = next(a for a in answers if "overall" in a)
    kpis = next(a for a in answers if a.get("report") == "kpis")
    assert balances["providers"] == [
        {
            "provider_id": "northside-ips",
            "payable_minor": 450_000,
            "payable": "4500.00",
            "recoverable_minor": 0,
        }
    ]
    assert [funnel["overall"][s]["participants"] for s in funnel["stages"]] == [1, 1, 1, 1]
    verified = [json.loads(line) for line in lines if '"status":"verified"' in line]
    assert sorted(c["amount"] for c in verified) == ["1500.00", "2500.00", "500.00"]
    march = next(r for r in kpis["rows"] if r["period"] == "2026-03")
    assert (march["due"], march["met"], march["rag"]) == (1, 1, "green")
    csv_start = lines.index("stage,month,quarter_to_date,year_to_date,contract_to_date")
    assert lines[csv_start + 1 : csv_start + 5] == [
        "referral,0,0,1,1",
        "enrollment,0,0,1,1",
        "job_start,0,0,1,1",
        "job_sustained,1,1,1,1",
    ]
    assert lines[-1] == "saved: dashboard.html"
    page = (workdir / "dashboard.html").read_text(encoding="utf-8")
    assert "<h1>IPS employment support (illustrative)</h1>" in page
    assert 'data-figure="funnel|job_sustained|month">1<' in page
