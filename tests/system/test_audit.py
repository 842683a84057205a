"""`outcomes audit verify` against real services: no difference on honest books; a stored event
changed behind the claims service's back is caught, and the feed digest changes with it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from shared.auth import TokenSigner
from tests.system.processes import Stack, running_stack, wait_until
from tests.system.test_story import Client, payable

KANGAROO = Path(__file__).parents[2] / "examples" / "contracts" / "kangaroo-care-dib.yaml"

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


def test_rebuilt_read_models_equal_the_live_ones_until_a_live_row_is_changed(
    stack: Stack, signer: TokenSigner
) -> None:
    client = Client(stack, signer)
    client.load_contract()
    for claim_id in client.post_story("case-1", "a"):
        client.verify(claim_id)
    wait_until(lambda: payable(client) == 450_000, "the ledger to book", 10)
    wait_until(lambda: len(client.ledger_transactions()) == 3, "the ledger feed", 10)
    wait_until(client.ledger_caught_up, "the ledger at the claims feed's last entry", 10)
    wait_until(client.metrics_caught_up, "metrics at its feeds' last entries", 10)
    index_caught_up = lambda: client.caught_up("ledger", "ledger-index", "ledger", ())  # noqa: E731 - every type
    wait_until(index_caught_up, "the ledger's index at its own feed's last entry", 10)
    urls = ["--claims-url", stack.urls["claims"], "--ledger-url", stack.urls["ledger"]]

    for service in ("metrics", "ledger"):
        result = stack.cli("audit", "rebuild", "--service", service, *urls)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().endswith("identical")

    changed = change_live_row(stack.store_urls["metrics"])
    assert changed == 1
    result = stack.cli("audit", "rebuild", "--service", "metrics", *urls)
    assert result.returncode == 1
    assert "DIFFERENCE mx_cube: 1 rows only live, 1 only rebuilt" in result.stdout
    client.http.close()


def change_live_row(store_url: str) -> int:
    """Add one to one count of the live metrics cube, behind the service's back."""
    statement = "UPDATE mx_cube SET n = n + 1 WHERE k1 = 'referral' AND measure = 'stage'"
    if store_url.startswith("sqlite"):
        import sqlite3

        views = store_url.removeprefix("sqlite:///").replace(".sqlite", ".views.sqlite")
        with sqlite3.connect(views) as connection:
            return connection.execute(statement).rowcount
    with psycopg.connect(store_url) as connection:
        return connection.execute(statement).rowcount


def test_population_claims_pass_the_audit_and_close_from_the_cli(
    stack: Stack, signer: TokenSigner
) -> None:
    """The kangaroo-care contract through real services: the CLI loads it and closes its
    populations; a baby posted about a long-closed quarter derives its population's claim at
    once; verified, it is booked; the auditor recomputes it from the feeds alone."""
    from shared.auth import Role

    claims = stack.urls["claims"]
    loaded = stack.cli("contracts", "load", str(KANGAROO), "--url", claims)
    assert loaded.returncode == 0, loaded.stderr
    provider = {
        "Authorization": f"Bearer {signer.issue(Role.PROVIDER, provider_id='kmc-consortium')}"
    }
    events = [
        {
            "event_id": f"{ref}-{kind}",
            "participant_ref": ref,
            "type": kind,
            "occurred_on": day,
            "attributes": attributes,
        }
        for ref, gain in (("b1", "17"), ("b2", "15.5"))
        for kind, day, attributes in (
            ("baby_enrolled", "2025-05-02", {"birth_weight_grams": 1400, "hospital": "h1"}),
            (
                "weight_assessed",
                "2025-06-20",
                {"appropriate_gain": True, "gain_g_per_kg_day": gain},
            ),
        )
    ]
    with httpx.Client(timeout=10.0) as http:
        answer = http.post(
            f"{claims}/v1/contracts/kangaroo-care-dib/events/batch",
            json={"events": events},
            headers=provider,
        )
        assert answer.status_code == 201, answer.text
        [claim_id] = [c for r in answer.json()["results"] for c in r["claim_ids"]]
        verifier = {"Authorization": f"Bearer {signer.issue(Role.VERIFIER)}"}
        verified = http.post(
            f"{claims}/v1/claims/{claim_id}/verify", json={"note": "seen"}, headers=verifier
        )
        assert verified.status_code == 200, verified.text
        # both babies gained enough: 100 % -> x 1.2: 80.00 x 1.2 x 2 babies = 192.00
        assert (verified.json()["outcome_id"], verified.json()["amount"]) == (
            "metric_c_quarterly_weight_gain",
            "192.00",
        )
    closed = stack.cli("contracts", "close-populations", "kangaroo-care-dib", "--url", claims)
    assert closed.returncode == 0, closed.stderr
    assert "closed 0 populations of kangaroo-care-dib; 0 claims derived" in closed.stdout
    wait_until(lambda: audit(stack)[0] == 0, "an audit with no difference", 20.0)
