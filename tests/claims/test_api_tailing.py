"""A payment system tails the claims list: every page resumes (the last one too), new claims
and changes come after the cursor it kept, a long-poll answers as soon as one comes, and a list
item carries every field of the claim."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from typing import Any

import httpx
import pytest

from tests.claims.helpers import story_json
from tests.claims.test_api import EVENTS, Auth, client, provider, wait_for_claims

__all__ = ["client"]  # the fixture

CLAIMS = "/v1/claims"


async def post_story(client: httpx.AsyncClient, auth: Auth, index: int) -> None:
    for event in story_json(ref=f"case-{index}", prefix=f"p{index}"):
        answer = await client.post(EVENTS, json=event, headers=provider(auth))
        assert answer.status_code == 201, answer.text


async def read_all(
    client: httpx.AsyncClient, headers: dict[str, str], after: int = 0, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every item after a cursor, page by page, and the cursor the last page gave."""
    seen: list[dict[str, Any]] = []
    while True:
        answer = await client.get(
            CLAIMS, params={"limit": 2, "after": after, **params}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += page["items"]
        assert isinstance(page["next_after"], int) and page["next_after"] >= after
        after = page["next_after"]
        if len(page["items"]) < 2:
            return seen, after


async def test_the_last_page_gives_a_cursor_that_returns_only_what_came_since(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    payer = auth("payer", contract_ids=["ips-employment"])
    await post_story(client, auth, 0)
    await wait_for_claims(client, auth("admin"), 3)
    first, cursor = await read_all(client, payer)
    assert len(first) == 3
    again, same = await read_all(client, payer, cursor)
    assert again == [] and same == cursor  # nothing new: the cursor stays
    await post_story(client, auth, 1)
    await wait_for_claims(client, auth("admin"), 6)
    new, later = await read_all(client, payer, cursor)
    assert len(new) == 3 and later > cursor
    assert not {c["claim_id"] for c in new} & {c["claim_id"] for c in first}
    assert all(c["derived_position"] > cursor for c in new)


async def test_ordered_by_change_a_verified_claim_comes_again(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    payer = auth("payer", contract_ids=["ips-employment"])
    await post_story(client, auth, 0)
    claims = await wait_for_claims(client, auth("admin"), 3)
    _, cursor = await read_all(client, payer, order="changed", status="verified")
    verified = await client.post(
        f"{CLAIMS}/{claims[0]['claim_id']}/verify", json={}, headers=auth("verifier")
    )
    assert verified.status_code == 200, verified.text
    answer = await client.get(  # the long-poll waits for the index to apply it
        CLAIMS,
        params={"after": cursor, "order": "changed", "status": "verified", "wait_s": 10},
        headers=payer,
    )
    found = answer.json()["items"]
    assert [c["claim_id"] for c in found] == [claims[0]["claim_id"]]
    assert found[0]["status"] == "verified" and found[0]["changed_position"] > cursor
    # in derivation order the same cursor does not bring it back: it was derived before
    derived, _ = await read_all(client, payer, found[0]["derived_position"])
    assert claims[0]["claim_id"] not in {c["claim_id"] for c in derived}


async def test_a_long_poll_answers_as_soon_as_a_claim_comes(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    payer = auth("payer", contract_ids=["ips-employment"])
    _, cursor = await read_all(client, payer)
    started = time.monotonic()
    empty = await client.get(CLAIMS, params={"after": cursor, "wait_s": 0.3}, headers=payer)
    assert empty.json()["items"] == [] and empty.json()["next_after"] >= cursor
    assert time.monotonic() - started >= 0.3  # it waited
    waiting = asyncio.create_task(
        client.get(CLAIMS, params={"after": cursor, "wait_s": 20}, headers=payer)
    )
    started = time.monotonic()
    await post_story(client, auth, 0)
    answer = await asyncio.wait_for(waiting, timeout=20)
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] and time.monotonic() - started < 15


async def test_a_list_item_carries_every_field_of_the_claim(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    await post_story(client, auth, 0)
    items = await wait_for_claims(client, auth("admin"), 3)
    for item in items:
        whole = (await client.get(f"{CLAIMS}/{item['claim_id']}", headers=auth("admin"))).json()
        assert {k: v for k, v in item.items() if k in whole} == whole
        assert item["trace"] and item["source_event_ids"] and item["trigger_event_id"]
    answer = await client.get(
        CLAIMS, params={"limit": 10}, headers=auth("admin") | {"Accept": "text/csv"}
    )
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["trigger_event_id"] for r in rows] == [i["trigger_event_id"] for i in items]
    assert [r["source_event_ids"] for r in rows] == [" ".join(i["source_event_ids"]) for i in items]
    assert int(answer.headers["X-Next-After"]) >= items[-1]["derived_position"]


@pytest.mark.parametrize(
    "params",
    [
        {"wait_s": 26},
        {"wait_s": -1},
        {"order": "newest"},
        {"order": "changed", "as_known_at": "2026-01-01T00:00:00Z"},
        {"wait_s": 1, "as_known_at": "2026-01-01T00:00:00Z"},
    ],
)
async def test_bad_tailing_parameters_are_422(
    client: httpx.AsyncClient, auth: Auth, params: dict[str, Any]
) -> None:
    answer = await client.get(CLAIMS, params=params, headers=auth("admin"))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
