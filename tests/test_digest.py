"""Feed digests: the same history gives the same digest on SQLite and PostgreSQL, a ledger
rebuilt from the claims feed gives the same ledger digest, and a stored event changed behind
the service's back changes the digest from that event on."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from services.claims.application import ClaimsApplication
from services.ledger.application import ClaimsFeedSink, LedgerApplication
from shared.feed.digest import GENESIS, digest_upto
from shared.feed.follower import Follower, LocalFeedSource
from tests.claims.helpers import PROVIDER, claims_app, ips_rulebook, story_events
from tests.stores import postgres_databases

LEDGER_NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def same_story(url: str) -> ClaimsApplication:
    """The walk-through's story: a contract, four events, the three claims verified."""
    claims = claims_app(url)
    claims.contracts.register(ips_rulebook())
    results = claims.intake.record_events("ips-employment", PROVIDER, story_events(), "provider:n")
    for claim_id in (c for r in results for c in r.claim_ids):
        claims.verification.verify(UUID(claim_id), "verifier:v", "seen")
    return claims


def ledger_digest(claims: ClaimsApplication, url: str) -> str:
    ledger = LedgerApplication(url, clock=lambda: LEDGER_NOW)
    try:
        Follower("d", LocalFeedSource(claims.read_feed), ClaimsFeedSink(ledger)).catch_up()
        found = digest_upto(ledger.read_feed, ledger.head_position())
        assert found.entries > 3
        return found.digest
    finally:
        ledger.close()


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[dict[str, dict[str, str]]]:
    sqlite = {n: f"sqlite:///{tmp_path / f'{n}.sqlite'}" for n in ("claims", "ledger")}
    rebuilt = {"ledger": f"sqlite:///{tmp_path / 'rebuilt-ledger.sqlite'}"}
    with postgres_databases(("claims", "ledger")) as postgres:
        yield {"sqlite": sqlite, "postgres": postgres, "rebuilt": rebuilt}


def test_the_same_history_has_the_same_digest_on_both_stores_and_after_a_rebuild(
    stores: dict[str, dict[str, str]],
) -> None:
    on_sqlite = same_story(stores["sqlite"]["claims"])
    on_postgres = same_story(stores["postgres"]["claims"])
    try:
        claims_sqlite = digest_upto(on_sqlite.read_feed, on_sqlite.head_position())
        claims_postgres = digest_upto(on_postgres.read_feed, on_postgres.head_position())
        assert claims_sqlite.entries == claims_postgres.entries > 10
        assert claims_sqlite.digest == claims_postgres.digest != GENESIS
        ledger = ledger_digest(on_sqlite, stores["sqlite"]["ledger"])
        assert ledger_digest(on_postgres, stores["postgres"]["ledger"]) == ledger
        assert ledger_digest(on_sqlite, stores["rebuilt"]["ledger"]) == ledger
    finally:
        on_sqlite.close()
        on_postgres.close()


def test_a_changed_stored_event_changes_the_digest_from_it_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'claims.sqlite'}"
    claims = same_story(url)
    entries = claims.read_feed(0, 1000)
    middle = next(e for e in entries if e.type == "claim.verified")
    before_all = digest_upto(claims.read_feed, entries[-1].position)
    before_middle = digest_upto(claims.read_feed, middle.position - 1)
    claims.close()

    with sqlite3.connect(tmp_path / "claims.sqlite") as connection:
        (state,) = connection.execute(
            "SELECT state FROM stored_events WHERE originator_id = ? AND originator_version = ?",
            (UUID(middle.stream_id).hex, middle.stream_version),
        ).fetchone()
        tampered = state.replace(b'"note":"seen"', b'"note":"not seen"')
        assert tampered != state
        connection.execute(
            "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
            (tampered, UUID(middle.stream_id).hex, middle.stream_version),
        )

    reopened = claims_app(url)
    try:
        assert digest_upto(reopened.read_feed, middle.position - 1) == before_middle
        assert digest_upto(reopened.read_feed, entries[-1].position).digest != before_all.digest
    finally:
        reopened.close()


def test_upto_counts_the_entries_up_to_that_position(tmp_path: Path) -> None:
    claims = same_story(f"sqlite:///{tmp_path / 'claims.sqlite'}")
    try:
        entries = claims.read_feed(0, 1000)
        assert digest_upto(claims.read_feed, 0).digest == GENESIS
        third = digest_upto(claims.read_feed, entries[2].position)
        assert (third.upto, third.entries) == (entries[2].position, 3)
        beyond = digest_upto(claims.read_feed, entries[-1].position + 1000)
        assert beyond.upto == entries[-1].position and beyond.entries == len(entries)
    finally:
        claims.close()
