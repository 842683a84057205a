"""Every route of every service, from their OpenAPI documents, with hostile values in every path
and query parameter, as a caller the route admits: no 5xx, and no answer slower than 2 s.

Issue 15, defect 5: a NUL in a query or path parameter, a timestamp without a time zone, a
date past the calendar's end and an overflowing decimal each answered 500 somewhere.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from shared.auth import TokenSigner
from tests.test_access_matrix import (  # the same three services, with data
    CLAIMS_ACCESS,
    LEDGER_ACCESS,
    METRICS_ACCESS,
    QUERIES,
    services,  # noqa: F401 (a fixture)
    tokens,
)

HOSTILE = (
    "\x00",
    "a\x07b",
    "x" * 5_000,
    "9" * 400,
    "1E+999999999",
    "9999-12-31T23:59:59-01:00",
    "2026-04-01T09:00:00",
    "-1",
    "ü%ff",
)
PREFERRED = ("admin", "auditor", "verifier", "payer", "provider", "evaluator", "service")
TABLES = {"claims": CLAIMS_ACCESS, "ledger": LEDGER_ACCESS, "metrics": METRICS_ACCESS}


def caller_for(table: dict[tuple[str, str], frozenset[str]], method: str, path: str) -> str:
    admitted = table[(method, path)]
    return next(caller for caller in PREFERRED if caller in admitted)


async def test_hostile_parameters_never_answer_5xx_or_hang(
    services: dict[str, Any],  # noqa: F811
    signer: TokenSigner,
) -> None:
    headers = tokens(signer)
    failures = []
    for service, table in TABLES.items():
        client = services["clients"][service]
        document = services["apps"][service].openapi()
        for path, item in sorted(document["paths"].items()):
            for method, operation in sorted(item.items()):
                caller = caller_for(table, method.upper(), path)
                for parameter in operation.get("parameters", []):
                    if parameter["in"] not in ("path", "query"):
                        continue
                    for value in HOSTILE:
                        failures += await _try(
                            client, method, path, parameter, value, headers[caller], services
                        )
    assert failures == [], "\n".join(failures[:40])


async def _try(
    client: Any,
    method: str,
    path: str,
    parameter: dict[str, Any],
    value: str,
    headers: dict[str, str],
    services: dict[str, Any],  # noqa: F811
) -> list[str]:
    name = parameter["name"]
    params = dict(QUERIES.get(path, {}))
    path_values = {k: quote(str(v), safe="") for k, v in services["params"].items()}
    if parameter["in"] == "path":
        path_values[name] = quote(value, safe="")
    else:
        params[name] = value
    url = path.format(**path_values)
    started = time.monotonic()
    response = await client.request(method.upper(), url, params=params, headers=headers)
    took = time.monotonic() - started
    problems = []
    shown = repr(value[:20])
    if response.status_code >= 500:
        problems.append(f"{method.upper()} {path} {name}={shown}: {response.status_code}")
    if took > 2.0:
        problems.append(f"{method.upper()} {path} {name}={shown}: took {took:.1f} s")
    return problems


async def test_each_bad_parameter_is_a_422_naming_it(
    services: dict[str, Any],  # noqa: F811
    signer: TokenSigner,
) -> None:
    admin = tokens(signer)["admin"]
    cases = [
        ("ledger", "/v1/contracts/ips-employment/balances", {"as_of": "2026-04-01T09:00:00"}),
        ("claims", "/v1/claims", {"as_known_at": "9999-12-31T23:59:59-01:00"}),
        ("claims", "/v1/claims", {"outcome_id": "job\x00start"}),
        ("claims", "/v1/audit/access-trail", {"actor": "\x00"}),
        ("metrics", "/v1/contracts/ips-employment/reports/funnel", {"site": "north\x00"}),
    ]
    for service, path, params in cases:
        response = await services["clients"][service].get(path, params=params, headers=admin)
        assert response.status_code == 422, (path, params, response.text)
        [name] = params
        assert [e["field"] for e in response.json()["errors"]] == [name], response.text
    trail = await services["clients"]["claims"].get(
        "/v1/audit/access-trail", params={"actor": "admin:admin"}, headers=admin
    )
    refused = [row for row in trail.json() if row["status"] == 422]
    assert any("%00" in row["query"] for row in refused), "the refusal is in the trail"
