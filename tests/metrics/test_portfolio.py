"""The portfolio: a line per contract the caller may see, each figure the same as the
contract's own reports give, as JSON, CSV and an HTML page."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import httpx

from tests.metrics.test_indigo import CONTRACT, metrics

__all__ = ["metrics"]  # the fixture: two stories verified, booked, partly paid

Auth = Callable[..., dict[str, str]]


async def test_each_line_is_what_the_contracts_reports_say(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    answer = await metrics.get("/v1/portfolio", headers=auth("admin"))
    assert answer.status_code == 200, answer.text
    [line] = answer.json()["items"]
    assert answer.json()["next_after"] is None
    reports = (await metrics.get(f"/v1/contracts/{CONTRACT}/reports", headers=auth("admin"))).json()
    money = next(r for r in reports["sections"]["money"] if r["provider_id"] == "*")
    funnel = reports["sections"]["funnel"]
    assert line["contract_id"] == CONTRACT and line["month"] == reports["month"]
    assert line["participants"] == funnel[0]["contract_to_date"] == 2
    assert line["outcomes"] == 6  # three claims each, all verified and booked
    for name in ("accrued", "paid", "capped", "unpaid"):
        assert line[name] == money[name], name
    assert line["paid"] is not None and line["accrued"] != line["unpaid"]
    main = [r for r in reports["sections"]["targets"] if r["group"] is None and r["current"]]
    if main:
        assert (line["target_id"], line["actual"]) == (main[0]["target_id"], main[0]["actual"])
    else:
        assert line["target_id"] is None

    as_csv = await metrics.get("/v1/portfolio", headers=auth("admin") | {"Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["contract_id"], r["participants"], r["accrued"]) for r in rows] == [
        (CONTRACT, "2", str(line["accrued"]))
    ]
    page = await metrics.get("/v1/portfolio", headers=auth("admin") | {"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert f'data-figure="portfolio|{CONTRACT}|accrued">{line["accrued"]}<' in page.text
    assert "<script" not in page.text


async def test_a_caller_sees_only_the_contracts_its_token_covers(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    def contracts(answer: httpx.Response) -> list[str]:
        assert answer.status_code == 200, answer.text
        return [item["contract_id"] for item in answer.json()["items"]]

    payer = auth("payer", subject="treasury", contract_ids=[CONTRACT])
    assert contracts(await metrics.get("/v1/portfolio", headers=payer)) == [CONTRACT]
    other = auth("payer", subject="treasury", contract_ids=["another-contract"])
    assert contracts(await metrics.get("/v1/portfolio", headers=other)) == []
    for role in ("admin", "auditor", "verifier"):
        scoped = auth(role, contract_ids=["another-contract"])
        assert contracts(await metrics.get("/v1/portfolio", headers=scoped)) == []
    provider = auth("provider", provider_id="northside-ips")
    assert (await metrics.get("/v1/portfolio", headers=provider)).status_code == 403
    bad = await metrics.get("/v1/portfolio", params={"limit": 0}, headers=auth("admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "limit"
