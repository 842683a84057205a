"""`outcomes audit verify` against real services: no difference on honest books; a stored event
changed behind the claims service's back is caught, and the feed digest changes with it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from shared.auth import TokenSigner
from tests.system.processes import Stack, running_stack, wait_until
from tests.system.test_story import Client, payable

pytestmark = pytest.mark.system


@pytest.fixture
def stack(urls: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path, urls) as stack:
        yield stack


def audit(stack: Stack) -> tuple[int, str, str]:
    result = stack.cli(
        "audit", "verify", "--claims", stack.urls["claims"], "--ledger", stack.urls["ledger"]
    )
    return result.returncode, result.stdout, result.stderr


def claims_digest(stdout: str) -> str:
    match = re.search(r"claims digest up to \d+: ([0-9a-f]{64})", stdout)
    assert match is not None, stdout
    return match.group(1)


def tamper(store_url: str, old: bytes, new: bytes) -> int:
    """Rewrite stored claim events behind the service's back; returns how many changed."""
    if store_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as connection:
            return connection.execute(
                "UPDATE stored_events SET state = CAST(replace(state, ?, ?) AS BLOB) "
                "WHERE instr(state, ?) > 0",
                (old, new, old),
            ).rowcount
    with psycopg.connect(store_url) as connection:
        return connection.execute(
            "UPDATE claims_events SET state = convert_to(replace(convert_from(state, 'UTF8'), "
            "%s, %s), 'UTF8') WHERE position(%s in convert_from(state, 'UTF8')) > 0",
            (old.decode(), new.decode(), old.decode()),
        ).rowcount


def test_the_verifier_passes_honest_books_and_catches_a_tampered_event(
    stack: Stack, signer: TokenSigner
) -> None:
    client = Client(stack, signer)
    request = client.http
    client.load_contract()
    claim_ids = client.post_story("case-1", "a") + client.post_story("case-2", "b")
    for claim_id in claim_ids:
        client.verify(claim_id)
    wait_until(lambda: payable(client) == 2 * 450_000, "the ledger to book", 10)

    code, out, err = audit(stack)
    assert code == 0, out + err
    assert "no differences" in out and "claims: 6" in out
    assert "claims feed [##############################] 100%" in err
    honest = claims_digest(out)

    changed = tamper(stack.store_urls["claims"], b'"amount_minor":150000', b'"amount_minor":160000')
    assert changed >= 2  # the two job-start claims' derivations (and their bookings)

    code, out, err = audit(stack)
    assert code == 1, out + err
    assert "amount_minor is 160000; the rules give 150000" in out
    assert "accrued and capped 150000, claim is 160000" in out
    assert claims_digest(out) != honest
    request.close()
