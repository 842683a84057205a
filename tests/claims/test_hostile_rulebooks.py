"""Hostile rule books (issue 15, defect 1): each refused fast with a 413 or 422 naming the
limit, never a 500, and never holding up other requests while a large one is read."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx
import pytest

from bench.rulebook import document as big_rulebook  # the benchmark's own large rule book
from tests.claims.conftest import load_examples

Auth = Callable[..., dict[str, str]]
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
async def client(service: httpx.AsyncClient, auth: Auth) -> httpx.AsyncClient:
    await load_examples(service, auth("admin"), "ips-employment")
    return service


@pytest.mark.parametrize(
    ("text", "field", "limit"),
    [
        ("a: " + "[" * 10_000 + "]" * 10_000, "a.0.0.0", "nested deeper than 32 levels"),
        ("contract_id: " + "9" * 5_000, "contract_id", "a number longer than 40 characters"),
        ("name: '" + "x" * 20_000 + "'", "name", "a value longer than 10000 characters"),
        ("a: &anchor 1\nb: *anchor", "document", "anchors and aliases are not allowed"),
        ("a: !!python/object:os.system x", "a", "cannot read this value"),
        ("? [1, 2]\n: x", "document", "a key must be a plain value"),
    ],
)
async def test_a_hostile_rule_book_is_422_naming_the_limit_fast(
    client: httpx.AsyncClient, auth: Auth, text: str, field: str, limit: str
) -> None:
    for path, role in (
        ("/v1/contracts", "admin"),
        ("/v1/contracts/ips-employment/what-if", "auditor"),
    ):
        started = time.monotonic()
        response = await client.post(path, content=text, headers={**auth(role), **YAML})
        assert time.monotonic() - started < 2.0
        assert response.status_code == 422, response.text
        [problem] = response.json()["errors"]
        assert problem["field"].startswith(field)
        assert limit in problem["message"]


async def test_a_rule_book_over_the_size_limit_is_413_naming_it(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    body = json.dumps(big_rulebook(tables=50, types=1, keys=3_000)).encode()  # about 2.4 MB
    response = await client.post(
        "/v1/contracts", content=body, headers={**auth("admin"), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "CLAIMS_RULEBOOK_MAX_BYTES" in response.json()["detail"]


async def test_health_answers_while_a_large_rule_book_is_read(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    body = json.dumps(big_rulebook(types=150)).encode()
    assert 900_000 < len(body) < 1_100_000
    headers = {**auth("admin"), "Content-Type": "application/json"}
    started = time.monotonic()
    registering = asyncio.create_task(client.post("/v1/contracts", content=body, headers=headers))
    latencies: list[float] = []
    moments: list[float] = []
    while not registering.done():
        asked = time.monotonic()
        health = await client.get("/healthz")
        latencies.append(time.monotonic() - asked)
        moments.append(round(asked - started, 3))
        assert health.status_code == 200
    response = await registering
    took = time.monotonic() - started
    assert response.status_code == 201, response.text
    assert took < 4.0  # a 1 MB rule book is read and checked in well under the 2 s target
    assert len(latencies) >= 3, "health was asked while the rule book was being read"
    slow = [
        (moment, round(latency, 3))
        for moment, latency in zip(moments, latencies, strict=True)
        if latency > 0.05
    ]
    # before the fix: every request, health included, waited 61 s, then a 500. The bound
    # leaves room for the reading thread's turns at the interpreter lock while another test
    # process shares the two cores (0.106 s was seen once in CI under that load)
    assert max(latencies) < 0.25, (slow, round(took, 3))
