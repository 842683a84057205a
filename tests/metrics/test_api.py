"""The metrics API through ASGI: reports as JSON and CSV, who sees what, staffing, bad input."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from openpyxl import load_workbook

from services.metrics.reports import COLUMNS
from shared.xlsxout import XLSX
from tests.metrics.conftest import CONTRACT, REPORTS, Auth


async def test_every_report_at_once_and_one_at_a_time(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    everything = await metrics.get(REPORTS, params={"month": "2026-03"}, headers=auth("admin"))
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert body["month"] == "2026-03" and body["as_known_at"] is None
    assert set(body["sections"]) >= {"funnel", "kpis", "ranking", "money", "need_groups"}
    one = await metrics.get(f"{REPORTS}/funnel", params={"month": "2026-03"}, headers=auth("admin"))
    assert one.json()["rows"] == body["sections"]["funnel"]
    assert [(r["stage"], r["month"]) for r in one.json()["rows"]] == [
        ("referral", 3),
        ("enrollment", 1),
        ("job_start", 0),
        ("job_sustained", 0),
    ]


async def test_csv_has_the_same_rows(metrics: httpx.AsyncClient, auth: Auth) -> None:
    response = await metrics.get(
        f"{REPORTS}/funnel",
        params={"month": "2026-03", "site": "north"},
        headers=auth("auditor") | {"Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["stage"], r["month"]) for r in rows] == [
        ("referral", "2"),
        ("enrollment", "1"),
        ("job_start", "0"),
        ("job_sustained", "0"),
    ]


async def test_the_pack_as_one_workbook_has_a_sheet_per_report_with_numbers(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    asked = {"month": "2026-03"}
    body = (await metrics.get(REPORTS, params=asked, headers=auth("admin"))).json()
    response = await metrics.get(REPORTS, params=asked, headers=auth("admin") | {"Accept": XLSX})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert 'filename="reports-demo-2026-03.xlsx"' in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["scope", *body["sections"]]
    scope = {row[0]: row[1] for row in book["scope"].iter_rows(min_row=2, values_only=True)}
    assert (scope["contract_id"], scope["month"]) == (CONTRACT, "2026-03")
    for name, rows in body["sections"].items():
        sheet = list(book[name].iter_rows(values_only=True))
        assert sheet[0] == COLUMNS[name], name
        assert len(sheet) - 1 == len(rows), name
    funnel = [row[:2] for row in list(book["funnel"].iter_rows(values_only=True))[1:]]
    assert funnel == [("referral", 3), ("enrollment", 1), ("job_start", 0), ("job_sustained", 0)]
    conversion = book["conversion"]
    assert conversion.cell(row=2, column=5).data_type == "n"  # "25.0" in JSON: a number here


async def test_one_report_as_a_workbook_is_what_a_provider_may_see(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    beta = auth("provider", provider_id="beta") | {"Accept": XLSX}
    response = await metrics.get(f"{REPORTS}/ranking", params={"month": "2026-03"}, headers=beta)
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["scope", "ranking"]
    ranked = list(book["ranking"].iter_rows(min_row=2, values_only=True))
    assert [row[COLUMNS["ranking"].index("provider_id")] for row in ranked] == ["beta"]


async def test_a_provider_sees_its_own_figures_and_its_own_rank(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    beta = auth("provider", provider_id="beta")
    funnel = await metrics.get(
        f"{REPORTS}/funnel", params={"month": "2026-03", "provider_id": "alpha"}, headers=beta
    )
    assert funnel.json()["filters"]["provider_id"] == "beta"
    assert funnel.json()["rows"][0]["month"] == 1
    ranking = await metrics.get(f"{REPORTS}/ranking", params={"month": "2026-03"}, headers=beta)
    assert [r["provider_id"] for r in ranking.json()["rows"]] == ["beta"]
    outsider = await metrics.get(REPORTS, headers=auth("provider", provider_id="gamma"))
    assert outsider.status_code == 403


async def test_staffing_is_posted_by_the_provider_and_read_back(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    alpha = auth("provider", provider_id="alpha")
    url = f"/v1/contracts/{CONTRACT}/staffing"
    first = await metrics.post(url, json={"month": "2026-03", "wte": "2.5"}, headers=alpha)
    assert first.status_code == 201, first.text
    again = await metrics.post(url, json={"month": "2026-03", "wte": "2.5"}, headers=alpha)
    assert again.status_code == 200
    corrected = await metrics.post(url, json={"month": "2026-03", "wte": "3"}, headers=alpha)
    assert corrected.status_code == 201
    listed = await metrics.get(url, headers=auth("admin"))
    assert listed.json()["items"] == [
        {"contract_id": CONTRACT, "provider_id": "alpha", "month": "2026-03", "wte": "3"}
    ]
    caseload = await metrics.get(
        f"{REPORTS}/caseload", params={"month": "2026-03"}, headers=auth("admin")
    )
    referral = next(
        r
        for r in caseload.json()["rows"]
        if (r["provider_id"], r["stage"]) == ("alpha", "referral")
    )
    assert (referral["wte"], referral["participants"], referral["per_wte"]) == ("3", 2, "0.67")
    for bad in ({"month": "2026-13", "wte": "1"}, {"month": "2026-03", "wte": "-1"}):
        refused = await metrics.post(url, json=bad, headers=alpha)
        assert refused.status_code == 422
    too_many = await metrics.post(url, json={"month": "2026-04", "wte": "20000"}, headers=alpha)
    assert too_many.status_code == 422
    assert (await metrics.get(url, headers=auth("admin"))).json()["items"][0]["wte"] == "3"


async def test_an_empty_report_still_has_its_csv_header(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    response = await metrics.get(
        f"{REPORTS}/caseload",
        params={"month": "2025-11"},  # the contract runs from 2025-10; nothing happened yet
        headers=auth("admin") | {"Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.text == "provider_id,month,period,wte,stage,participants,per_wte\r\n"


@pytest.mark.parametrize("month", ["2025-09", "2027-01"])
async def test_a_month_outside_the_contract_is_refused_naming_it(
    metrics: httpx.AsyncClient, auth: Auth, month: str
) -> None:
    for url in (REPORTS, f"{REPORTS}/funnel", f"/dashboard/{CONTRACT}"):
        response = await metrics.get(url, params={"month": month}, headers=auth("admin"))
        assert response.status_code == 422, url
        [problem] = response.json()["errors"]
        assert problem == {
            "field": "month",
            "message": "the contract runs from 2025-10 to 2026-12",
        }


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        (f"{REPORTS}/nonsense", {}, 422),
        (REPORTS, {"month": "2026-3"}, 422),
        (REPORTS, {"as_known_at": "2026-04-01T09:00:00"}, 422),
        (REPORTS, {"as_known_at": "1970-01-01T00:00:00Z"}, 422),
        (REPORTS, {"cohort": "January"}, 422),
        (REPORTS, {"period": "fortnight"}, 422),
        ("/v1/contracts/no-such-contract/reports", {}, 404),
    ],
)
async def test_bad_report_requests_are_clear_4xx(
    metrics: httpx.AsyncClient, auth: Auth, path: str, params: dict[str, str], status: int
) -> None:
    response = await metrics.get(path, params=params, headers=auth("admin"))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
