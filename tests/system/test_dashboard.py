"""The dashboard in a real browser: headless Chromium (Debian's package) opens the page served by
a real metrics process, and every figure it shows is checked against the JSON reports.

Without Chromium the test is skipped with the reason shown; ``OUTCOMES_REQUIRE_BROWSER=1`` (set
by ``.ci/run``, which installs it) turns that skip into a failure. A screenshot is saved to
``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth import Role, TokenSigner
from tests.stores import store_urls
from tests.system.processes import Stack, running_stack, wait_until

pytestmark = pytest.mark.system
RULEBOOK = Path(__file__).parents[1] / "metrics" / "reports-demo.yaml"
CONTRACT = "reports-demo"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
MONTH = "2026-03"
JOURNEYS = {
    "alpha": {
        "a1": [
            ("referral", "01-05", "north", True),
            ("enrollment", "01-10"),
            ("job_start", "02-20"),
        ],
        "a2": [
            ("referral", "01-20", "north", False),
            ("enrollment", "02-15"),
            ("job_start", "03-10"),
        ],
        "a3": [("referral", "02-03", "south", False), ("enrollment", "02-10")],
    },
    "beta": {
        "b1": [("referral", "02-14", "south", True)],
        "b2": [("referral", "03-01", "north", False), ("enrollment", "03-20")],
    },
}


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("OUTCOMES_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (OUTCOMES_REQUIRE_BROWSER=1)")
        pytest.skip(message)
    return found


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with store_urls("sqlite", tmp_path) as urls, running_stack(tmp_path, urls) as stack:
        yield stack


def events_for(ref: str, steps: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    found = []
    for stage, month_day, *referral in steps:
        attributes = {"site": referral[0], "long_term_unemployed": referral[1]} if referral else {}
        found.append(
            {
                "event_id": f"{ref}-{stage}",
                "participant_ref": ref,
                "type": stage,
                "occurred_on": f"2026-{month_day}",
                "attributes": attributes,
            }
        )
    return found


def load_history(stack: Stack, signer: TokenSigner) -> dict[str, str]:
    admin = {"Authorization": f"Bearer {signer.issue(Role.ADMIN)}"}
    loaded = stack.cli("contracts", "load", str(RULEBOOK), "--url", stack.urls["claims"])
    assert loaded.returncode == 0, loaded.stderr
    for provider, people in JOURNEYS.items():
        headers = {"Authorization": f"Bearer {signer.issue(Role.PROVIDER, provider_id=provider)}"}
        events = [e for ref, steps in people.items() for e in events_for(ref, steps)]
        response = httpx.post(
            f"{stack.urls['claims']}/v1/contracts/{CONTRACT}/events/batch",
            json={"events": events},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 201, response.text
        staffing = httpx.post(
            f"{stack.urls['metrics']}/v1/contracts/{CONTRACT}/staffing",
            json={"month": MONTH, "wte": "2"},
            headers=headers,
            timeout=10,
        )
        assert staffing.status_code in (200, 201), staffing.text
    return admin


def reports_when_settled(stack: Stack, admin: dict[str, str]) -> dict[str, Any]:
    """The JSON reports once metrics has every referral and the ledger's two accruals (booked
    in the ledger's current month, so the money of the current month's report shows them)."""
    found: dict[str, Any] = {}

    def settled() -> bool:
        money = httpx.get(
            f"{stack.urls['metrics']}/v1/contracts/{CONTRACT}/reports/money",
            headers=admin,
            timeout=10,
        )
        if money.status_code != 200 or money.json()["rows"][-1]["accrued"] != "2000.00":
            return False
        response = httpx.get(
            f"{stack.urls['metrics']}/v1/contracts/{CONTRACT}/reports",
            params={"month": MONTH},
            headers=admin,
            timeout=10,
        )
        found.update(response.json())
        sections = found.get("sections", {})
        return sections.get("funnel", [{}])[0].get("contract_to_date") == 5

    wait_until(settled, "metrics to catch up with claims and the ledger", 20.0)
    return found


def figure_value(sections: dict[str, Any], key: str) -> Any:
    """The JSON value a ``data-figure`` key names (see services/metrics/dashboard.py)."""
    if key.startswith("chart:"):
        report, row_key = key.removeprefix("chart:").split("|")
        field = {
            "funnel": "contract_to_date",
            "targets": "actual",
            "ranking": "score_percent",
            "trends": "actual",
        }
        if report == "money":
            return sections["money"][-1][row_key.split("/")[1]]
        return figure_value(sections, f"{report}|{row_key}|{field[report]}")
    report, row_key, field = key.split("|")
    if report not in ROW_KEYS:  # a plain table: its rows by position
        return sections[report][int(row_key)][field]
    for row in sections[report]:
        if _row_key(report, row) == row_key:
            return row[field]
    raise AssertionError(f"no row {row_key!r} in {report}")


def _row_key(report: str, row: dict[str, Any]) -> str:
    return ROW_KEYS[report](row)


ROW_KEYS: dict[str, Callable[[dict[str, Any]], str]] = {
    "funnel": lambda r: r["stage"],
    "targets": lambda r: (
        f"{r['target_id']}/{r['group']}/{r['period']}"
        if r["group"]
        else f"{r['target_id']}/{r['period']}"
    ),
    "kpis": lambda r: f"{r['kpi_id']}/{r['period']}",
    "ranking": lambda r: r["provider_id"],
    "conversion": lambda r: f"{r['from_stage']}>{r['to_stage']}",
    "need_groups": lambda r: f"{r['attribute']}={r['value']}/{r['stage']}",
    "money": lambda r: r["provider_id"],
    "trends": lambda r: f"{r['stage']}/{r['month']}",  # its first row: the first series
}


def test_the_dashboard_shows_the_reports_figures_in_a_browser(
    stack: Stack, signer: TokenSigner
) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    admin = load_history(stack, signer)
    reports = reports_when_settled(stack, admin)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_context(
                extra_http_headers=admin, viewport={"width": 1280, "height": 900}
            ).new_page()
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            response = page.goto(
                f"{stack.urls['metrics']}/dashboard/{CONTRACT}?month={MONTH}", timeout=20_000
            )
            assert response is not None and response.status == 200
            shown = page.eval_on_selector_all(
                "[data-figure]", "nodes => nodes.map(n => [n.dataset.figure, n.textContent])"
            )
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            bars = page.locator("svg rect.bar").count()
        finally:
            browser.close()
    assert requested == [f"{stack.urls['metrics']}/dashboard/{CONTRACT}?month={MONTH}"]
    assert bars >= 4 + 2 + 4 + 4 * 6, "funnel, ranking, money and trends charts should have bars"
    assert len(shown) > 60
    wrong = []
    for key, text in shown:
        expected = figure_value(reports["sections"], key)
        expected_text = "—" if expected is None else str(expected)
        if key.startswith("chart:ranking") and expected is not None:
            expected_text += "%"
        if text != expected_text:
            wrong.append(f"{key}: page shows {text!r}, the JSON says {expected_text!r}")
    assert wrong == [], "\n".join(wrong)
    for needed in ("funnel|referral|contract_to_date", "kpis|enrolled_within_14_days/2026-03|rag"):
        assert any(key == needed for key, _ in shown), needed


OVERLAPS = """() => {
  const boxes = [];
  for (const node of document.querySelectorAll('body *')) {
    const own = [...node.childNodes].some(c => c.nodeType === 3 && c.textContent.trim());
    if (!own) continue;
    const r = node.getBoundingClientRect();
    if (r.width && r.height) boxes.push([node, r]);
  }
  const found = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (x > 0.5 && y > 0.5) found.push(a.textContent.trim() + ' / ' + b.textContent.trim());
    }
  }
  return found;
}"""


CLIPPED = """() => {
  const found = [];
  for (const node of document.querySelectorAll('section *')) {
    const own = [...node.childNodes].some(c => c.nodeType === 3 && c.textContent.trim());
    if (!own) continue;
    const r = node.getBoundingClientRect(), box = node.closest('section').getBoundingClientRect();
    if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5
        || r.bottom > box.bottom + 0.5) found.push(node.textContent.trim());
  }
  return found;
}"""


def test_a_link_opens_the_dashboard_in_a_browser_and_the_pack_prints_as_a_pdf(
    stack: Stack, signer: TokenSigner, tmp_path: Path
) -> None:
    """No token pasted: `outcomes dashboard --link` prints a link, the browser opens it and gets
    an HTTP-only session cookie; no two text boxes on the page overlap; `--pdf` saves the pack."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    admin = load_history(stack, signer)
    reports_when_settled(stack, admin)
    metrics = stack.urls["metrics"]
    linked = stack.cli("dashboard", CONTRACT, "--month", MONTH, "--url", metrics, "--link")
    assert linked.returncode == 0, linked.stderr
    link = linked.stdout.strip()
    assert link.startswith(f"{metrics}/dashboard/{CONTRACT}/open?link=")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            response = page.goto(link, timeout=20_000)
            assert response is not None and response.status == 200
            assert page.url == f"{metrics}/dashboard/{CONTRACT}?month={MONTH}"
            [cookie] = context.cookies()
            assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
            assert (
                page.locator('[data-figure="funnel|referral|contract_to_date"]').inner_text() == "5"
            )
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "dashboard.html").write_text(page.content(), encoding="utf-8")
            overlapping = page.evaluate(OVERLAPS)
            clipped = page.evaluate(CLIPPED)
            page.emulate_media(media="print")
            overlapping_in_print = page.evaluate(OVERLAPS)
            clipped_in_print = page.evaluate(CLIPPED)
            page.set_content(  # the check itself sees an overlap when there is one
                '<p style="position:absolute;top:0">first</p>'
                '<p style="position:absolute;top:4px">second</p>'
            )
            assert page.evaluate(OVERLAPS) == ["first / second"]
        finally:
            browser.close()
    assert overlapping == [], overlapping
    assert overlapping_in_print == [], overlapping_in_print
    assert clipped == [], f"text outside its section: {clipped}"
    assert clipped_in_print == [], f"text outside its section in print: {clipped_in_print}"
    pdf = ARTIFACTS / "dashboard.pdf"
    ARTIFACTS.mkdir(exist_ok=True)
    printed = stack.cli(
        "dashboard", CONTRACT, "--month", MONTH, "--url", metrics, "--pdf", str(pdf)
    )
    assert printed.returncode == 0, printed.stderr
    assert pdf.read_bytes().startswith(b"%PDF-")
