"""Reports split by provider, site, cohort or a flag value (of the first event or a later one),
and filtered by a flag value.

The history is tests/metrics/test_reports.py's (seven participants of alpha and beta on two
sites, three of them long-term unemployed). Every split group must give exactly the report
filtered to that group; a report not kept along the dimension is given once with ``*``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
import yaml

from services.claims.commands import IncomingEvent
from services.metrics.application import ReportRequest
from services.metrics.readmodels.cube import Filters
from services.metrics.reports import REPORTS, SPECS
from services.metrics.splits import SPLIT_COLUMNS, WHOLE, Split
from shared.errors import InvalidInput
from tests.metrics.conftest import CONTRACT as API_CONTRACT
from tests.metrics.conftest import REPORTS as REPORTS_PATH
from tests.metrics.conftest import Auth
from tests.metrics.test_reports import (
    CONTRACT,
    MARCH,
    PEOPLE,
    RULEBOOK,
    WAGES,
    Demo,
    built_demo,
    day,
    demo,
    table,
)

__all__ = ["demo"]  # the fixture

LTU = "long_term_unemployed"


def split_report(demo: Demo, names: list[str], split: str, **filters: Any) -> dict[str, Any]:
    demo.follower.catch_up()
    request = ReportRequest(CONTRACT, Filters(**filters), MARCH, split=Split.parse(split))
    return demo.reporter.report(request, names).sections


def filtered(demo: Demo, name: str, filters: Filters) -> list[dict[str, Any]]:
    demo.follower.catch_up()
    request = ReportRequest(CONTRACT, filters, MARCH)
    return demo.reporter.report(request, [name]).sections[name]


@pytest.mark.parametrize(
    ("split", "groups"),
    [
        ("provider", {"alpha": Filters(provider_id="alpha"), "beta": Filters(provider_id="beta")}),
        ("site", {"north": Filters(site="north"), "south": Filters(site="south")}),
        (
            "cohort",
            {m: Filters(cohort=m) for m in ("2026-01", "2026-02", "2026-03")},
        ),
        (f"flag:{LTU}", {v: Filters(flag=(LTU, v)) for v in ("false", "true")}),
    ],
)
def test_each_group_of_a_split_is_the_report_filtered_to_it(
    demo: Demo, split: str, groups: dict[str, Filters]
) -> None:
    names = list(REPORTS)
    sections = split_report(demo, names, split)
    dimension = Split.parse(split).dimension
    for name in names:
        rows = sections[name]
        assert all(row["split_by"] == split for row in rows), name
        if dimension not in SPECS[name].splits:  # given once, for the whole contract
            whole = filtered(demo, name, Filters())
            assert [{**r, "split_value": WHOLE} for r in rows] == [
                {"split_by": split, "split_value": WHOLE, **r} for r in whole
            ]
            continue
        for value, filters in groups.items():
            mine = [
                {k: v for k, v in row.items() if k not in SPLIT_COLUMNS}
                for row in rows
                if row["split_value"] == value
            ]
            assert mine == filtered(demo, name, filters), (name, value)
        assert {row["split_value"] for row in rows} <= set(groups), name


def test_a_flag_filter_counts_the_participants_with_that_value(demo: Demo) -> None:
    columns = ("stage", "contract_to_date")
    flagged = filtered(demo, "funnel", Filters(flag=(LTU, "true")))
    assert table(flagged, *columns) == [  # A1, B1, B3 (see need_groups)
        ("referral", 3),
        ("enrollment", 1),
        ("job_start", 1),
        ("job_sustained", 0),
    ]
    both = filtered(demo, "funnel", Filters(provider_id="beta", flag=(LTU, "true")))
    assert table(both, *columns) == [
        ("referral", 2),
        ("enrollment", 0),
        ("job_start", 0),
        ("job_sustained", 0),
    ]


def test_a_split_keeps_the_other_filters(demo: Demo) -> None:
    sections = split_report(demo, ["funnel"], "site", provider_id="beta")
    rows = sections["funnel"]
    assert {row["split_value"] for row in rows} == {"north", "south"}
    south = [r for r in rows if r["split_value"] == "south"]
    assert table(south, "stage", "contract_to_date") == [  # B1 and B3
        ("referral", 2),
        ("enrollment", 0),
        ("job_start", 0),
        ("job_sustained", 0),
    ]


def test_unknown_splits_and_flags_are_refused_naming_the_parameter(demo: Demo) -> None:
    for text in ("staff", "flag:", "site:north", "flag"):
        with pytest.raises(InvalidInput) as refused:
            Split.parse(text)
        assert refused.value.problems[0].field == "split"
    with pytest.raises(InvalidInput) as refused:
        split_report(demo, ["funnel"], "flag:benefits")
    assert refused.value.problems[0].field == "split"
    with pytest.raises(InvalidInput) as refused:
        filtered(demo, "funnel", Filters(flag=("benefits", "true")))
    assert refused.value.problems[0].field == "flag"


async def test_a_split_report_as_csv_has_the_split_columns_first(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    response = await metrics.get(
        f"{REPORTS_PATH}/funnel",
        params={"month": "2026-03", "split": "site"},
        headers=auth("auditor") | {"Accept": "text/csv"},
    )
    assert response.status_code == 200, response.text
    reader = csv.reader(io.StringIO(response.text))
    header = next(reader)
    assert header[:3] == ["split_by", "split_value", "stage"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["split_value"], r["stage"], r["month"]) for r in rows][:2] == [
        ("north", "referral", "2"),
        ("north", "enrollment", "1"),
    ]
    as_json = await metrics.get(
        f"{REPORTS_PATH}/funnel",
        params={"month": "2026-03", "split": "site", "flag": f"{LTU}:false"},
        headers=auth("auditor"),
    )
    body = as_json.json()
    assert body["split"] == "site" and body["filters"]["flag"] == f"{LTU}:false"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (f"{REPORTS_PATH}/funnel", {"split": "staff"}),
        (REPORTS_PATH, {"split": "flag:no_such_flag"}),
        (REPORTS_PATH, {"flag": "no_such_flag:true"}),
        (REPORTS_PATH, {"flag": "long_term_unemployed"}),
        (f"/dashboard/{API_CONTRACT}", {"split": "site"}),
    ],
)
async def test_bad_splits_and_flags_are_422_naming_the_parameter(
    metrics: httpx.AsyncClient, auth: Auth, path: str, params: dict[str, str]
) -> None:
    response = await metrics.get(path, params={"month": "2026-03", **params}, headers=auth("admin"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    fields = {problem["field"] for problem in response.json()["errors"]}
    assert fields & {"split", "flag", "query.split", "query.flag"}, fields


@pytest.mark.parametrize(
    "params",
    [
        {"flag": "long_term_unemployed:" + "x" * 500},
        {"flag": "long_term_unemployed:a=b"},
        {"flag": "long_term_unemployed:a;b"},
        {"flag": "9lives:true"},
        {"split": "flag:" + "x" * 500},
        {"split": "site", "as_known_at": "2026-04-01T09:00:00"},
        {"split": "site", "month": "99999-01"},
    ],
)
async def test_hostile_splits_and_flags_are_422_never_500(
    metrics: httpx.AsyncClient, auth: Auth, params: dict[str, str]
) -> None:
    response = await metrics.get(REPORTS_PATH, params=params, headers=auth("admin"))
    assert response.status_code == 422, response.text


async def test_split_workbooks_and_concurrent_splits_answer(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    import asyncio

    from shared.xlsxout import XLSX

    params = {"month": "2026-03", "split": f"flag:{LTU}", "flag": f"{LTU}:true"}
    workbook = await metrics.get(
        REPORTS_PATH, params=params, headers=auth("admin") | {"Accept": XLSX}
    )
    assert workbook.status_code == 200, workbook.text
    answers = await asyncio.gather(
        *(
            metrics.get(
                REPORTS_PATH, params={"month": "2026-03", "split": split}, headers=auth("admin")
            )
            for split in ("provider", "site", "cohort", f"flag:{LTU}") * 5
        )
    )
    assert {answer.status_code for answer in answers} == {200}


def test_a_flag_on_a_later_event_splits_the_participants_who_reached_it(
    urls: dict[str, str],
) -> None:
    """Jobs with and without benefits: a flag on the job start splits job starters by it, and
    participants without a job start (or without the attribute on it) are ``unknown``."""
    document = yaml.safe_load(RULEBOOK.read_text())
    job_start = document["event_types"]["job_start"]["attributes"]
    job_start["on_benefits"] = {"type": "boolean", "flag": "need"}
    with built_demo(urls, document) as later:
        for ref, on_benefits in (("A1", True), ("A3", False)):
            body = IncomingEvent(
                f"{ref}-job_start",
                ref,
                "job_start",
                day(PEOPLE[ref][3][2] or ""),
                {"hourly_wage": WAGES[ref], "on_benefits": on_benefits},
            )
            later.claims.corrections.correct_event(
                CONTRACT, "alpha", body, "provider:alpha", "benefits known"
            )
        sections = split_report(later, ["funnel"], "flag:on_benefits")
        starts = {
            row["split_value"]: row["contract_to_date"]
            for row in sections["funnel"]
            if row["stage"] == "job_start"
        }
        assert starts == {"true": 1, "false": 1, "unknown": 1}  # A2's job start names none
        referrals = {
            row["split_value"]: row["contract_to_date"]
            for row in sections["funnel"]
            if row["stage"] == "referral"
        }
        assert referrals == {"true": 1, "false": 1, "unknown": 5}  # 7 referred in all
        with_benefits = filtered(later, "funnel", Filters(flag=("on_benefits", "true")))
        assert [row["contract_to_date"] for row in with_benefits] == [1, 1, 1, 0]  # A1
