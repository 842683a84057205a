"""Per-caseworker figures: the rule book names the attribute, claims keeps only pseudonyms, and
the reports count, filter and split by them.

The history is tests/metrics/test_reports.py's: A1 and A2 enrolled by alpha's Sam Green, A3 by
alpha's Kim Lee, B2 by beta's Sam Green (another person: another pseudonym), A4 by nobody named.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml

from services.claims.api import create_app as create_claims_app
from services.claims.commands import IncomingEvent
from services.claims.settings import ClaimsSettings
from services.metrics.readmodels.cube import Filters
from services.metrics.splits import Split
from shared.errors import InvalidInput
from shared.identifiers import is_caseworker_id, pseudonymise
from shared.periods import Period
from shared.rules.model import RuleBookInvalid, parse_rulebook
from shared.settings import CommonSettings
from tests.claims.helpers import PSEUDONYM_KEY
from tests.conftest import serving
from tests.metrics.conftest import Auth
from tests.metrics.test_reports import (
    CONTRACT,
    MARCH,
    RULEBOOK,
    STAGES,
    Demo,
    built_demo,
    day,
    demo,
)
from tests.metrics.test_splits import filtered, split_report

__all__ = ["demo"]  # the fixture


def pseudonyms(demo: Demo, provider_id: str, *names: str) -> list[str]:
    rulebook = demo.claims.contracts.latest_rulebook(CONTRACT)
    found = demo.claims.personal.caseworker_ids(rulebook, provider_id, list(names))
    return [pseudonym for _, pseudonym in found]


def by_caseworker(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(provider, caseworker) → its caseload and participants per stage."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        group = found.setdefault((row["provider_id"], row["caseworker"]), {})
        group["caseload"] = row["caseload"]
        group[row["stage"]] = row["participants"]
    return found


def test_the_caseworkers_report_counts_each_caseworker_by_hand(demo: Demo) -> None:
    sam, kim = pseudonyms(demo, "alpha", "Sam Green", "Kim Lee")
    [beta_sam] = pseudonyms(demo, "beta", "Sam Green")
    assert sam != beta_sam and all(map(is_caseworker_id, (sam, kim, beta_sam)))
    month = by_caseworker(demo.report("caseworkers"))
    none = dict.fromkeys(STAGES, 0)
    assert month == {
        # March: nothing reached; A1 and A2 in service at the month's end
        ("alpha", sam): {"caseload": 2, **none},
        # A3's job start (03-02) and sustainment (03-30, the closed stage: not in service)
        ("alpha", kim): {"caseload": 0, **none, "job_start": 1, "job_sustained": 1},
        ("alpha", "unknown"): {"caseload": 1, **none},  # A4, enrolled by nobody named
        ("beta", beta_sam): {"caseload": 1, **none, "referral": 1, "enrollment": 1},  # B2
        ("beta", "unknown"): {"caseload": 2, **none, "referral": 1},  # B1; B3 referred 03-15
    }
    quarter = by_caseworker(demo.report("caseworkers", period=Period.QUARTER))
    assert quarter[("alpha", sam)] == {
        "caseload": 2,
        "referral": 2,
        "enrollment": 2,
        "job_start": 2,
        "job_sustained": 0,
    }
    assert {row["period"] for row in demo.report("caseworkers", period=Period.QUARTER)} == {
        "2026-Q1"
    }
    # a stage's rows add up to the funnel's
    funnel = {row["stage"]: row["month"] for row in demo.report("funnel")}
    for stage in STAGES:
        assert sum(group[stage] for group in month.values()) == funnel[stage]


def test_a_caseworker_filter_and_split_give_the_same_figures(demo: Demo) -> None:
    sam, kim = pseudonyms(demo, "alpha", "Sam Green", "Kim Lee")
    names = ["funnel", "intervals", "contact", "kpis", "caseworkers"]
    sections = split_report(demo, names, "caseworker")
    for name in names:
        values = {row["split_value"] for row in sections[name]}
        assert {sam, kim, "unknown"} <= values, (name, values)
        for value in values:
            mine = [
                {k: v for k, v in row.items() if k not in ("split_by", "split_value")}
                for row in sections[name]
                if row["split_value"] == value
            ]
            assert mine == filtered(demo, name, Filters(caseworker=value)), (name, value)
    funnel = {
        row["stage"]: row["contract_to_date"]
        for row in filtered(demo, "funnel", Filters(caseworker=kim))
    }
    assert funnel == {"referral": 1, "enrollment": 1, "job_start": 1, "job_sustained": 1}


def test_a_correction_naming_a_caseworker_moves_the_participant(demo: Demo) -> None:
    [kim] = pseudonyms(demo, "alpha", "Kim Lee")
    before = by_caseworker(demo.report("caseworkers"))
    assert before[("alpha", kim)]["caseload"] == 0
    corrected = IncomingEvent(
        "A4-enrollment", "A4", "enrollment", day("01-30"), {"caseworker": "Kim Lee"}
    )
    demo.claims.corrections.correct_event(CONTRACT, "alpha", corrected, "provider:alpha", "named")
    after = by_caseworker(demo.report("caseworkers"))
    assert after[("alpha", kim)]["caseload"] == 1
    assert ("alpha", "unknown") not in after
    # the claims service stored the pseudonym, never the name
    participant_id = pseudonymise(PSEUDONYM_KEY, CONTRACT, "alpha", "A4")
    stored = demo.claims.reader.participant(CONTRACT, participant_id)
    assert [e["attributes"] for e in stored.events if e["type"] == "enrollment"] == [
        {"caseworker": kim}
    ]
    assert "Kim Lee" not in repr(stored.events)


def test_need_groups_do_not_list_the_caseworker(demo: Demo) -> None:
    attributes = {row["attribute"] for row in demo.report("need_groups")}
    assert attributes == {"long_term_unemployed"}


def test_a_caseworker_filter_or_split_on_a_contract_without_one_is_refused(
    urls: dict[str, str],
) -> None:
    document = yaml.safe_load(RULEBOOK.read_text())
    del document["reporting"]["caseworker_attribute"]
    with built_demo(urls, document) as plain:
        with pytest.raises(InvalidInput) as refused:
            filtered(plain, "funnel", Filters(caseworker="unknown"))
        assert refused.value.problems[0].field == "caseworker"
        with pytest.raises(InvalidInput) as refused:
            split_report(plain, ["funnel"], "caseworker")
        assert refused.value.problems[0].field == "split"
        assert plain.report("caseworkers") == []  # its columns, no rows
        rulebook = plain.claims.contracts.latest_rulebook(CONTRACT)
        with pytest.raises(InvalidInput) as refused:
            plain.claims.personal.caseworker_ids(rulebook, "alpha", ["Sam Green"])
        assert refused.value.problems[0].field == "caseworker_refs"
        # with no caseworker attribute, the name is kept as any other string attribute is
        participant_id = pseudonymise(PSEUDONYM_KEY, CONTRACT, "alpha", "A1")
        stored = plain.claims.reader.participant(CONTRACT, participant_id)
        assert {"caseworker": "Sam Green"} in [e["attributes"] for e in stored.events]


def test_a_split_by_caseworker_within_a_caseworker_filter_is_refused(demo: Demo) -> None:
    assert Split.parse("caseworker").dimension == "caseworker"
    with pytest.raises(InvalidInput) as refused:
        split_report(demo, ["funnel"], "caseworker", caseworker="unknown")
    assert refused.value.problems[0].field == "split"


def _problems(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(RuleBookInvalid) as refused:
        parse_rulebook(document)
    return {p.field: p.message for p in refused.value.problems}


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d["reporting"].update(caseworker_attribute="enrollment.nobody"), "no attribute"),
        (lambda d: d["reporting"].update(caseworker_attribute="referral.site"), "string"),
        (
            lambda d: d["event_types"]["enrollment"]["attributes"]["caseworker"].update(
                personal=True
            ),
            "personal",
        ),
        (
            lambda d: d["event_types"]["enrollment"]["attributes"]["caseworker"].update(
                flag="need"
            ),
            "flag",
        ),
        (
            lambda d: d["outcomes"][0].update(
                requires=[{"event": "enrollment"}],
                conditions=[{"attribute": "enrollment.caseworker", "op": "==", "value": "x"}],
            ),
            "conditions read",
        ),
    ],
)
def test_a_caseworker_attribute_the_reports_cannot_read_is_refused(
    change: Any, needle: str
) -> None:
    document = yaml.safe_load(RULEBOOK.read_text())
    change(document)
    problems = _problems(copy.deepcopy(document))
    assert needle in problems.get("reporting.caseworker_attribute", ""), problems


def test_a_rule_book_without_a_caseworker_keeps_its_digest() -> None:
    document = yaml.safe_load(RULEBOOK.read_text())
    del document["reporting"]["caseworker_attribute"]
    dumped = parse_rulebook(document).model_dump(mode="json")
    assert "caseworker_attribute" not in dumped["reporting"]


@pytest.fixture
async def claims_client(
    urls: dict[str, str], common: CommonSettings, auth: Auth
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_claims_app(ClaimsSettings(database_url=urls["claims"]), common)
    async with serving(app) as client:
        response = await client.post(
            "/v1/contracts",
            content=RULEBOOK.read_text(),
            headers=auth("admin") | {"Content-Type": "application/yaml"},
        )
        assert response.status_code == 201, response.text
        yield client


IDS = f"/v1/contracts/{CONTRACT}/caseworker-ids"


async def test_a_provider_learns_its_own_caseworkers_pseudonyms(
    claims_client: httpx.AsyncClient, auth: Auth
) -> None:
    alpha = auth("provider", provider_id="alpha")
    answer = await claims_client.post(IDS, json={"caseworker_refs": ["Sam Green"]}, headers=alpha)
    assert answer.status_code == 200, answer.text
    [found] = answer.json()["caseworker_ids"]
    assert found["caseworker_ref"] == "Sam Green" and is_caseworker_id(found["caseworker_id"])
    event = {
        "event_id": "e1",
        "participant_ref": "p1",
        "type": "enrollment",
        "occurred_on": "2026-03-02",
        "attributes": {"caseworker": "Sam Green"},
    }
    posted = await claims_client.post(f"/v1/contracts/{CONTRACT}/events", json=event, headers=alpha)
    assert posted.status_code == 201, posted.text
    participant = await claims_client.get(
        f"/v1/contracts/{CONTRACT}/participants/{posted.json()['participant_id']}",
        headers=alpha,
    )
    [stored] = participant.json()["events"]
    assert stored["attributes"] == {"caseworker": found["caseworker_id"]}
    beta = await claims_client.post(
        IDS, json={"caseworker_refs": ["Sam Green"]}, headers=auth("provider", provider_id="beta")
    )
    assert beta.json()["caseworker_ids"][0]["caseworker_id"] != found["caseworker_id"]


@pytest.mark.parametrize(
    ("role", "claims", "body", "status"),
    [
        ("admin", {}, {"caseworker_refs": ["Sam Green"]}, 403),
        ("verifier", {}, {"caseworker_refs": ["Sam Green"]}, 403),
        ("provider", {"provider_id": "gamma"}, {"caseworker_refs": ["Sam Green"]}, 403),
        ("provider", {"provider_id": "alpha"}, {"caseworker_refs": []}, 422),
        ("provider", {"provider_id": "alpha"}, {"caseworker_refs": ["x"] * 1001}, 422),
        ("provider", {"provider_id": "alpha"}, {"caseworker_refs": ["a\nb"]}, 422),
        ("provider", {"provider_id": "alpha"}, {"caseworker_refs": ["x" * 201]}, 422),
        ("provider", {"provider_id": "alpha"}, {"refs": ["Sam Green"]}, 422),
    ],
)
async def test_caseworker_ids_are_for_the_contracts_providers_only(
    claims_client: httpx.AsyncClient,
    auth: Auth,
    role: str,
    claims: dict[str, str],
    body: dict[str, Any],
    status: int,
) -> None:
    answer = await claims_client.post(IDS, json=body, headers=auth(role, **claims))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "params", [{"caseworker": "Sam Green"}, {"caseworker": "w_" + "0" * 31}, {"split": "staff"}]
)
async def test_a_bad_caseworker_parameter_is_422(
    metrics: httpx.AsyncClient, auth: Auth, params: dict[str, str]
) -> None:
    answer = await metrics.get(
        f"/v1/contracts/{CONTRACT}/reports/caseworkers",
        params={"month": MARCH, **params},
        headers=auth("admin"),
    )
    assert answer.status_code == 422, answer.text
    fields = {problem["field"] for problem in answer.json()["errors"]}
    assert fields & {"query.caseworker", "query.split", "caseworker", "split"}, fields


async def test_the_caseworkers_report_over_the_api_shows_pseudonyms_only(
    metrics: httpx.AsyncClient, auth: Auth
) -> None:
    answer = await metrics.get(
        f"/v1/contracts/{CONTRACT}/reports/caseworkers",
        params={"month": MARCH, "split": "caseworker"},
        headers=auth("provider", provider_id="alpha"),
    )
    assert answer.status_code == 200, answer.text
    assert "Jo Smith" not in answer.text
    workers = {row["caseworker"] for row in answer.json()["rows"]}
    assert workers and all(is_caseworker_id(w) or w == "unknown" for w in workers)
    assert {row["provider_id"] for row in answer.json()["rows"]} == {"alpha"}
