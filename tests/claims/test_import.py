"""Providers import CSV files of events: every row checked first and every problem named by
line and column; nothing recorded unless all rows are valid (or only the valid rows, with
``mode=valid-rows``); the same file again records nothing new; a template per contract."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from services.claims.imports import MAX_ROWS, read_csv
from shared.errors import InvalidInput
from shared.xlsxout import XLSX
from tests.claims.helpers import OTHER_PROVIDER, ips_rulebook
from tests.claims.test_api import EVENTS, Auth, client, provider, wait_for_claims

__all__ = ["client"]  # the fixture

HEADER = "event_id,participant_ref,type,occurred_on,referral_source,hours_per_week,hourly_wage"
STORY = [
    "ev-1,case-1,referral,2026-03-02,self,,",
    "ev-2,case-1,enrollment,2026-03-09,,,",
    "ev-3,case-1,job_start,2026-04-01,,20,12.50",
    "ev-4,case-1,job_sustained,2026-07-08,,,",
]


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode()


async def post_csv(
    client: httpx.AsyncClient, auth: Auth, body: bytes, **params: Any
) -> httpx.Response:
    headers = provider(auth) | {"Content-Type": "text/csv"}
    return await client.post(EVENTS, content=body, params=params, headers=headers)


def problems(answer: httpx.Response) -> list[tuple[int | None, str]]:
    return [(p.get("line"), p["field"]) for p in answer.json()["errors"]]


async def test_a_valid_file_records_its_events_and_again_records_nothing(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    answer = await post_csv(client, auth, csv_file(*STORY))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["rows"], body["recorded"], body["already_recorded"]) == (4, 4, 0)
    assert body["claims_derived"] == 3 and body["errors"] == []
    claims = await wait_for_claims(client, auth("admin"), 3)
    job_start = next(c for c in claims if c["trigger_event_id"] == "ev-3")
    assert job_start["amount_minor"] > 0
    again = await post_csv(client, auth, csv_file(*STORY))
    assert again.status_code == 200, again.text
    assert (again.json()["recorded"], again.json()["already_recorded"]) == (0, 4)
    # the same events as JSON are answered as recorded before (the same bodies)
    as_json = await client.post(
        EVENTS,
        json={
            "event_id": "ev-3",
            "participant_ref": "case-1",
            "type": "job_start",
            "occurred_on": "2026-04-01",
            "attributes": {"hours_per_week": 20, "hourly_wage": "12.50"},
        },
        headers=provider(auth),
    )
    assert as_json.status_code == 200, as_json.text


async def test_every_bad_row_is_named_by_line_and_column_and_nothing_is_recorded(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    body = csv_file(
        "ev-1,case-1,referral,2026-03-02,self,,",
        "ev-2,case-1,enrollment,2026-13-09,,,",  # line 3: no such month
        "ev-3,case-1,job_start,2026-04-01,,,12.50",  # line 4: hours missing
        "ev-4,case-1,job_start,2026-04-02,,twenty,",  # line 5: not an integer
        "ev-5,case-1,referral,2026-03-02,email,,",  # line 6: not one of the sources
        "ev-6,case-1,referral,2026-03-02,self,5,",  # line 7: referrals have no hours
        "ev-1,case-2,referral,2026-03-02,self,,",  # line 8: event id also on line 2
        "ev-7,case-1,meeting,2026-03-02,,,",  # line 9: no such type
        "ev-8,case-1,referral,2026-03-02",  # line 10: too few cells
        ",case-1,referral,2026-03-02,,,",  # line 11: no event id
    )
    answer = await post_csv(client, auth, body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert problems(answer) == [
        (3, "occurred_on"),
        (4, "hours_per_week"),
        (5, "hours_per_week"),
        (6, "referral_source"),
        (7, "hours_per_week"),
        (8, "event_id"),
        (9, "type"),
        (10, "body"),
        (11, "event_id"),
    ]
    assert answer.json()["rejected"] == 9 and answer.json()["rows"] == 10
    listed = await client.get("/v1/claims", headers=auth("admin"))
    assert listed.json()["items"] == []
    participant = await client.post(
        EVENTS,
        json={
            "event_id": "ev-1",
            "participant_ref": "case-1",
            "type": "referral",
            "occurred_on": "2026-03-02",
            "attributes": {"referral_source": "self"},
        },
        headers=provider(auth),
    )
    assert participant.status_code == 201  # ev-1 was not recorded by the refused file


async def test_valid_rows_mode_records_the_good_rows_and_gives_back_the_bad(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    body = csv_file(*STORY[:2], "ev-9,case-1,job_start,2026-04-01,,0,", *STORY[2:])
    answer = await post_csv(client, auth, body, mode="valid-rows")
    assert answer.status_code == 201, answer.text
    assert (answer.json()["recorded"], answer.json()["rejected"]) == (4, 1)
    assert problems(answer) == [(4, "hours_per_week")]
    again = await client.post(
        EVENTS,
        content=body,
        params={"mode": "valid-rows"},
        headers=provider(auth) | {"Content-Type": "text/csv", "Accept": "text/csv"},
    )
    assert again.status_code == 200 and again.headers["X-Rejected"] == "1"
    rows = list(csv.reader(io.StringIO(again.text)))
    assert rows[0] == ["line", "problems", *HEADER.split(",")]
    assert rows[1][0] == "4"
    assert rows[1][2:] == ["ev-9", "case-1", "job_start", "2026-04-01", "", "0", ""]
    assert "hours_per_week" in rows[1][1]


async def test_a_row_reusing_a_recorded_event_id_with_another_body_is_refused(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    assert (await post_csv(client, auth, csv_file(*STORY))).status_code == 201
    changed = csv_file(*STORY[:2], "ev-3,case-1,job_start,2026-04-01,,30,12.50")
    answer = await post_csv(client, auth, changed)
    assert answer.status_code == 422
    assert problems(answer) == [(4, "event_id")]
    assert "correct" in answer.json()["errors"][0]["message"]


async def test_a_dry_run_checks_and_records_nothing(client: httpx.AsyncClient, auth: Auth) -> None:
    answer = await post_csv(client, auth, csv_file(*STORY), dry_run="true")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["recorded"], answer.json()["dry_run"]) == (0, True)
    assert (await post_csv(client, auth, csv_file(*STORY))).json()["recorded"] == 4


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        (csv_file(*STORY, header="event_id,participant_ref,type"), 1, "occurred_on"),
        (csv_file(*STORY, header=HEADER + ",favourite_colour"), 1, "favourite_colour"),
        (csv_file(*STORY, header=HEADER + ",hours_per_week"), 1, "hours_per_week"),
        (b"", None, "header"),
        (
            "\r\n".join([HEADER, "ev-1,café,referral,2026-03-02,self,,"]).encode("latin-1"),
            2,
            "body",
        ),
        ("\r\n".join([HEADER, 'ev-1,"case,referral,2026-03-02,,,']).encode(), 2, "body"),
    ],
)
async def test_a_file_that_cannot_be_read_is_refused_naming_where(
    client: httpx.AsyncClient, auth: Auth, body: bytes, line: int | None, field: str
) -> None:
    answer = await post_csv(client, auth, body)
    assert answer.status_code == 422, answer.text
    assert (line, field) in problems(answer), problems(answer)


async def test_utf8_with_a_byte_order_mark_is_read(client: httpx.AsyncClient, auth: Auth) -> None:
    body = b"\xef\xbb\xbf" + csv_file(
        "ev-1,caf\xc3\xa9-1,referral,2026-03-02,self,,".encode().decode()
    )
    answer = await post_csv(client, auth, body)
    assert answer.status_code == 201, answer.text


def test_more_rows_than_the_limit_are_refused_at_the_first_row_over() -> None:
    rows = [f"ev-{i},case-{i},referral,2026-03-02,,," for i in range(4)]
    with pytest.raises(InvalidInput) as refused:
        read_csv(csv_file(*rows), ips_rulebook(), max_rows=3)
    assert [(p.line, p.field) for p in refused.value.problems] == [(5, "body")]
    assert MAX_ROWS >= 10_000


async def test_the_template_has_the_contracts_columns(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    url = "/v1/contracts/ips-employment/import-template"
    template = await client.get(url, headers=provider(auth))
    assert template.status_code == 200
    assert template.text.strip() == (
        "event_id,participant_ref,type,occurred_on,referral_source,long_term_unemployed,"
        "hours_per_week,hourly_wage"
    )
    workbook = await client.get(url, headers=auth("admin") | {"Accept": XLSX})
    assert workbook.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(workbook.content))
    assert [c.value for c in book["events"][1]] == template.text.strip().split(",")
    guide = {row[0]: row for row in book["columns"].iter_rows(min_row=2, values_only=True)}
    assert guide["hours_per_week"][1:4] == ("integer", "job_start", "job_start")
    assert guide["referral_source"][1] == "one of: secondary_care, primary_care, self"
    other = auth("provider", provider_id="elsewhere")
    assert (await client.get(url, headers=other)).status_code == 403
    assert (await client.get(url, headers=auth("payer"))).status_code == 403
    # a template-shaped file of the other provider imports under its own participants
    answer = await client.post(
        EVENTS,
        content=(template.text + "ev-1,case-1,referral,2026-03-02,,true,,\r\n").encode(),
        headers=provider(auth, OTHER_PROVIDER) | {"Content-Type": "text/csv"},
    )
    assert answer.status_code == 201, answer.text


async def test_json_events_still_answer_as_before(client: httpx.AsyncClient, auth: Auth) -> None:
    bad = await client.post(
        EVENTS,
        content=b'{"event_id": "x"',
        headers=provider(auth) | {"Content-Type": "application/json"},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body"
    missing = await client.post(EVENTS, json={"event_id": "x"}, headers=provider(auth))
    assert missing.status_code == 422
    assert {"participant_ref", "type", "occurred_on"} <= set(problems_fields(missing))


def problems_fields(answer: httpx.Response) -> list[str]:
    return [p["field"] for p in answer.json()["errors"]]


async def test_ids_and_references_follow_the_json_bodys_rules(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    """A NUL or a control character in an id or a reference is refused as in JSON (PostgreSQL
    could not even store a NUL)."""
    body = csv_file(
        "ev\x001,case-1,referral,2026-03-02,self,,",
        "ev-2,case\x07-1,referral,2026-03-02,self,,",
        "ev-3," + "c" * 129 + ",referral,2026-03-02,self,,",
    )
    answer = await post_csv(client, auth, body)
    assert answer.status_code == 422, answer.text
    assert problems(answer) == [(2, "event_id"), (3, "participant_ref"), (4, "participant_ref")]
