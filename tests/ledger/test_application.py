"""The ledger books verified claims from the claims feed, exactly once, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from services.claims.application import ClaimsApplication
from services.ledger.application import ClaimsFeedSink, LedgerApplication
from services.ledger.domain import Book, UnbalancedTransaction
from services.ledger.errors import BookNotFound
from shared.feed.follower import Follower, LocalFeedSource
from tests.claims.helpers import OTHER_PROVIDER, PROVIDER, story_events


@pytest.fixture
def ledger(urls: dict[str, str]) -> Iterator[LedgerApplication]:
    application = LedgerApplication(urls["ledger"])
    yield application
    application.close()


def follower(claims: ClaimsApplication, ledger: LedgerApplication) -> Follower:
    return Follower("test", LocalFeedSource(claims.read_feed), ClaimsFeedSink(ledger), page_size=3)


def verify_story(claims: ClaimsApplication, provider: str, ref: str, prefix: str) -> int:
    results = claims.record_events(
        "ips-employment", provider, story_events(ref, prefix), "provider:x"
    )
    claim_ids = [UUID(c) for r in results for c in r.claim_ids]
    for claim_id in claim_ids:
        claims.verify(claim_id, "verifier:v", "")
    return sum(claims.claim(c).amount_minor for c in claim_ids)


def test_verified_claims_are_booked_per_provider(
    claims: ClaimsApplication, ledger: LedgerApplication
) -> None:
    expected_a = verify_story(claims, PROVIDER, "a", "a")
    expected_b = verify_story(claims, OTHER_PROVIDER, "b", "b")
    claims.record_events("ips-employment", PROVIDER, story_events("c", "c"), "provider:x")
    follower(claims, ledger).catch_up()
    book = ledger.book("ips-employment")
    assert book.balances == {
        "outcome_payments": expected_a + expected_b,
        f"payable:{PROVIDER}": -expected_a,
        f"payable:{OTHER_PROVIDER}": -expected_b,
    }
    assert expected_a == 450_000
    assert sum(book.balances.values()) == 0
    assert ledger.tracked_position("claims") == claims.read_feed(0, 1000)[-1].position


def test_every_posted_transaction_balances(
    claims: ClaimsApplication, ledger: LedgerApplication
) -> None:
    verify_story(claims, PROVIDER, "a", "a")
    follower(claims, ledger).catch_up()
    posted = [e for e in ledger.read_feed(0, 100) if e.type == "ledger.transaction_posted"]
    assert len(posted) == 3
    for entry in posted:
        assert sum(line["amount_minor"] for line in entry.data["entries"]) == 0


def test_a_page_applied_twice_is_refused_whole(
    claims: ClaimsApplication, ledger: LedgerApplication
) -> None:
    verify_story(claims, PROVIDER, "a", "a")
    entries = claims.read_feed(0, 1000)
    sink = ClaimsFeedSink(ledger)
    sink.apply(entries)
    head = ledger.head_position()
    with pytest.raises(IntegrityError):
        sink.apply(entries)
    assert ledger.head_position() == head
    assert ledger.book("ips-employment").transaction_count == 3


def test_resuming_after_a_stop_books_the_rest_once(
    claims: ClaimsApplication, ledger: LedgerApplication
) -> None:
    verify_story(claims, PROVIDER, "a", "a")
    first = follower(claims, ledger)
    first.run_once()
    first.run_once()
    verify_story(claims, PROVIDER, "b", "b")
    follower(claims, ledger).catch_up()
    assert ledger.book("ips-employment").balances[f"payable:{PROVIDER}"] == -900_000


def test_a_book_refuses_an_unbalanced_transaction() -> None:
    book = Book("c", "GBP")
    with pytest.raises(UnbalancedTransaction):
        book.post(
            transaction_id="t",
            kind="accrual",
            claim_id="x",
            provider_id="p",
            currency="GBP",
            entries=[{"account": "outcome_payments", "amount_minor": 1}],
        )
    assert book.balances == {}


def test_a_claim_in_another_currency_is_refused() -> None:
    book = Book("c", "GBP")
    with pytest.raises(UnbalancedTransaction):
        book.accrue("x", {"amount_minor": 100, "currency": "USD", "provider_id": "p"})


def test_unknown_book_is_not_found(ledger: LedgerApplication) -> None:
    with pytest.raises(BookNotFound):
        ledger.book("nope")
