"""Schemathesis against each service's OpenAPI document, as several roles, on real processes.

Bounded (five examples per operation, deterministic generation) so CI stays quick; every phase
runs, stateful included, as every role that uses the service. It fails on any 5xx, on any
response that breaks the documented schema, and on any status code the document does not
name (`shared/openapi.py` documents what every operation may answer). It has found three real
bugs so far: naive datetimes from SQLite, cursors past 64 bits, and a re-derived claim colliding
with a voided one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.auth import Role, TokenSigner
from tests.claims.helpers import PROVIDER, story_json
from tests.conftest import IPS_RULEBOOK
from tests.system.processes import Stack, running_stack

pytestmark = pytest.mark.system
CONTRACT = "ips-employment"
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")  # long-polls wait a second at most
ROLES = {
    "claims": ["admin", "provider", "verifier", "payer", "evaluator", "auditor"],
    "ledger": ["admin", "payer", "auditor"],
    "metrics": ["admin", "provider"],
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("schemathesis")
    urls = {n: f"sqlite:///{folder / f'{n}.sqlite'}" for n in ("claims", "ledger", "metrics")}
    with running_stack(folder, urls) as stack:
        signer = TokenSigner(
            "outcomes-development-signing-key-do-not-use-in-production", "outcomes", "outcomes-api"
        )
        assert (
            stack.cli(
                "contracts", "load", str(IPS_RULEBOOK), "--url", stack.urls["claims"]
            ).returncode
            == 0
        )
        provider = {"Authorization": f"Bearer {signer.issue(Role.PROVIDER, provider_id=PROVIDER)}"}
        with httpx.Client(timeout=10) as http:
            for event in story_json():
                http.post(
                    f"{stack.urls['claims']}/v1/contracts/{CONTRACT}/events",
                    json=event,
                    headers=provider,
                )
        yield stack


def token_for(role: str) -> str:
    signer = TokenSigner(
        "outcomes-development-signing-key-do-not-use-in-production", "outcomes", "outcomes-api"
    )
    if role == "provider":
        return signer.issue(Role.PROVIDER, provider_id=PROVIDER)
    if role in ("payer", "evaluator"):
        return signer.issue(Role(role), contract_ids=[CONTRACT], subject=f"{role}-one")
    return signer.issue(Role(role))


@pytest.mark.parametrize(("service", "role"), [(s, r) for s, roles in ROLES.items() for r in roles])
def test_no_server_errors_and_no_schema_violations(
    stack: Stack, service: str, role: str, tmp_path: Path
) -> None:
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{stack.urls[service]}/openapi.json",
    ]
    command += ["-H", f"Authorization: Bearer {token_for(role)}", "-n", "5"]
    command += ["--generation-deterministic", "--request-timeout", "10"]
    command += ["--phases", "examples,coverage,fuzzing,stateful"]
    command += ["-c", "not_a_server_error,response_schema_conformance,status_code_conformance"]
    command += [
        "--exclude-path",
        "/feed",
    ]  # long polls outlast the client timeout; tested elsewhere
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
