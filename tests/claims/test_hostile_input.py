"""Hostile input to the claims API: each a clear 4xx, with nothing recorded."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tests.claims.conftest import load_examples
from tests.claims.helpers import PROVIDER, story_json

Auth = Callable[..., dict[str, str]]
EVENTS = "/v1/contracts/ips-employment/events"
GOOD = json.dumps(story_json()[2])


@pytest.fixture
async def client(service: httpx.AsyncClient, auth: Auth) -> httpx.AsyncClient:
    await load_examples(service, auth("admin"), "ips-employment")
    return service


async def head(client: httpx.AsyncClient, auth: Auth) -> int | None:
    page = (await client.get("/feed?limit=1000", headers=auth("service"))).json()
    last: int | None = page["last_position"]
    return last


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (GOOD[:-1] + ', "type": "referral"}', "duplicate key"),
        (GOOD.replace('"hours_per_week": 20', '"hours_per_week": NaN'), "NaN"),
        (GOOD.replace('"hours_per_week": 20', '"hours_per_week": Infinity'), "Infinity"),
        (GOOD.replace("case-0042", "case-\\ud800"), "surrogate"),
        (GOOD.replace("case-0042", "case-\\u0000"), "NUL"),
        (GOOD.replace("case-0042", "case-\\u0007"), "participant_ref"),
        ('{"a": ' * 40 + "1" + "}" * 40, "nested"),
        (GOOD.replace('"2026-04-01"', '"1800-01-01"'), "occurred_on"),
        (GOOD.replace('"2026-04-01"', '"9999-12-31"'), "occurred_on"),
        (GOOD.replace('"hours_per_week": 20', '"hours_per_week": 1e400'), "hours_per_week"),
        (
            GOOD.replace('"hours_per_week": 20', '"hours_per_week": 99999999999999999999999'),
            "hours_per_week",
        ),
        (GOOD[:40], "JSON"),
        (
            GOOD.replace(
                '"hours_per_week": 20', '"hours_per_week": 20, "hourly_wage": "1E+999999999"'
            ),
            "out of range",
        ),
    ],
)
async def test_hostile_bodies_are_refused_and_record_nothing(
    client: httpx.AsyncClient, auth: Auth, raw: str, why: str
) -> None:
    before = await head(client, auth)
    response = await client.post(
        EVENTS,
        content=raw.encode("utf-8", "surrogatepass"),
        headers={**auth("provider", provider_id=PROVIDER), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert why.lower() in response.text.lower()
    assert await head(client, auth) == before


async def test_control_characters_in_a_string_attribute_are_refused(
    client: httpx.AsyncClient, auth: Auth, service: httpx.AsyncClient
) -> None:
    await load_examples(service, auth("admin"), "teens-and-toddlers")
    event = {
        "event_id": "t1",
        "participant_ref": "yp",
        "type": "cohort_started",
        "occurred_on": "2025-09-10",
        "attributes": {"school": "Hill\x1bside"},
    }
    response = await client.post(
        "/v1/contracts/teens-and-toddlers/events",
        json=event,
        headers=auth("provider", provider_id="tt-london"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "attributes.school"


@pytest.mark.parametrize(
    "content_type",
    [
        "Application/JSON",
        "application/json; charset=utf-8",
        "APPLICATION/JSON;charset=UTF-8",
        "application/merge-patch+json",
        "application/vnd.outcomes+json",
    ],
)
async def test_every_json_media_type_goes_through_the_guard(
    client: httpx.AsyncClient, auth: Auth, content_type: str
) -> None:
    """Issue 15, defect 4: a duplicate key or a NUL got past the guard under another spelling
    of the JSON media type (the last ``type`` won and was recorded)."""
    before = await head(client, auth)
    headers = {**auth("provider", provider_id=PROVIDER), "Content-Type": content_type}
    duplicate = GOOD[:-1] + ', "type": "referral"}'
    response = await client.post(EVENTS, content=duplicate.encode(), headers=headers)
    assert response.status_code == 422, response.text
    assert "duplicate key" in response.text
    nul = GOOD.replace("case-0042", "case-\\u0000")
    assert (await client.post(EVENTS, content=nul.encode(), headers=headers)).status_code == 422
    assert await head(client, auth) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_of_another_media_type_is_415(
    client: httpx.AsyncClient, auth: Auth, content_type: str | None
) -> None:
    before = await head(client, auth)
    headers = auth("provider", provider_id=PROVIDER)
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await client.post(EVENTS, content=GOOD.encode(), headers=headers)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await head(client, auth) == before


async def test_a_405_names_every_method_the_path_allows(client: httpx.AsyncClient) -> None:
    """Issue 15, defect 9: a 405 carries ``Allow``."""
    response = await client.put("/v1/claims")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    posted = await client.delete("/v1/contracts")
    assert (posted.status_code, posted.headers["allow"]) == (405, "GET, HEAD, POST")
    batch = await client.get("/v1/contracts/ips-employment/events/batch")
    assert (batch.status_code, batch.headers["allow"]) == (405, "POST")
