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
