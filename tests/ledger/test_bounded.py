"""Issue 20, point 1: a book's state is bounded whatever its claims; each claim's line and each
participant's use of participant caps are aggregates of their own, saved with the postings;
books kept before that are moved apart; the book asserts its invariants as it changes."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from eventsourcing.domain import Snapshot as LibrarySnapshot

from services.claims.application import ClaimsApplication
from services.ledger.api import MIGRATIONS
from services.ledger.application import ClaimsFeedSink, LedgerApplication
from services.ledger.booking import RemittanceLine, accrue, reverse
from services.ledger.domain import Book, LedgerInvariantBroken
from services.ledger.lines import Allowance, Line, allowance_id, line_id
from services.ledger.readmodels import payables
from services.ledger.readmodels import transactions as index
from services.ledger.routes.common import behind
from shared.feed import catalogue as feed
from shared.feed.envelope import FeedEntry
from shared.sqlviews import create_engine, feed_positions, migrate
from shared.storeurls import sqlalchemy_url

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
CONTRACT = "ips-employment"
PERSON_CAP = {"id": "per_person", "scope": "participant", "amount": "2000.00"}


@pytest.fixture
def ledger(urls: dict[str, str]) -> Iterator[LedgerApplication]:
    application = LedgerApplication(urls["ledger"], clock=lambda: NOW)
    yield application
    application.close()


def registration(claims: ClaimsApplication, *caps: dict[str, Any]) -> FeedEntry:
    """The IPS contract's registration as the claims feed gives it, with extra caps."""
    [entry] = claims.read_feed(0, 10, {feed.ContractRegistered.TYPE})
    data = copy.deepcopy(entry.data)
    data["rulebook"]["caps"] = [*data["rulebook"].get("caps", []), *caps]
    return entry.model_copy(update={"data": data})


class Feed:
    """Claims-feed entries made up for the ledger: verifications and reversal requests."""

    def __init__(self, start: int) -> None:
        self.position = start

    def entry(self, kind: type[feed.ClaimTransition], claim: str, person: str) -> FeedEntry:
        self.position += 1
        booking = feed.Booking(
            contract_id=CONTRACT, provider_id="provider-a", participant_id=person,
            outcome_id="job_start", occurred_on="2026-03-02", amount_minor=150_000,
            currency="GBP", contract_version=1,
        )  # fmt: skip
        status = "verified" if kind is feed.ClaimVerified else "reversal_requested"
        data = kind(
            actor="verifier:v", status=status, at=NOW.isoformat(), note="", booking=booking
        ).model_dump(mode="json")
        return FeedEntry(
            position=self.position, type=kind.TYPE, schema_version=1,
            stream_id=str(uuid.uuid5(uuid.NAMESPACE_URL, claim)), stream_version=1,
            recorded_at=NOW, data=data,
        )  # fmt: skip

    def verified(self, claim: str, person: str) -> FeedEntry:
        return self.entry(feed.ClaimVerified, claim, person)

    def reversed(self, claim: str, person: str) -> FeedEntry:
        return self.entry(feed.ClaimReversalRequested, claim, person)


def claim_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def shape(state: dict[str, Any]) -> dict[str, Any]:
    """How big each part of a book's state is (not what it holds)."""
    return {
        k: len(v) if isinstance(v, dict | list | set) else type(v).__name__
        for k, v in state.items()
    }


def test_a_books_state_does_not_grow_with_its_claims(
    claims: ClaimsApplication, ledger: LedgerApplication
) -> None:
    registered = registration(claims)
    made = Feed(registered.position)
    sink = ClaimsFeedSink(ledger)
    sink.apply([registered])
    sizes = []
    for batch in range(3):
        sink.apply([made.verified(f"c-{batch}-{n}", f"p-{batch}-{n}") for n in range(60)])
        state = Book.Snapshot.take(ledger.book(CONTRACT)).state
        sizes.append(shape(state))
        assert not {"lines", "participant_usage", "touched"} & set(state)
        assert claim_id(f"c-{batch}-0") not in json.dumps(state, default=str)
    assert sizes[0] == sizes[1] == sizes[2]
    assert ledger.book(CONTRACT).sequence == 180
    line = ledger.load(line_id(CONTRACT, claim_id("c-2-59")), Line)
    assert line is not None and line.line["seq"] == 180 and line.line["accrued"] == 150_000


def test_participant_caps_are_metered_across_pages_by_allowances(
    claims: ClaimsApplication, ledger: LedgerApplication
) -> None:
    registered = registration(claims, PERSON_CAP)
    made = Feed(registered.position)
    sink = ClaimsFeedSink(ledger)
    sink.apply([registered, made.verified("first", "p-1")])
    ledger._kept_books.clear()  # the next page reads the book and the allowance from the store
    sink.apply([made.verified("second", "p-1"), made.verified("other", "p-2")])
    second = ledger.booked_line(CONTRACT, claim_id("second"))
    assert second is not None and (second["accrued"], second["capped"]) == (50_000, 100_000)
    allowance = ledger.load(allowance_id(CONTRACT, "p-1"), Allowance)
    assert allowance is not None and allowance.usage == {"per_person#p-1": 200_000}
    assert "per_person#p-1" not in ledger.book(CONTRACT).cap_usage  # not in the book's state
    sink.apply([made.reversed("first", "p-1")])  # frees 1,500.00 of the participant's cap
    allowance = ledger.load(allowance_id(CONTRACT, "p-1"), Allowance)
    assert allowance is not None and allowance.usage == {"per_person#p-1": 50_000}
    sink.apply([made.verified("third", "p-1")])
    third = ledger.booked_line(CONTRACT, claim_id("third"))
    assert third is not None and (third["accrued"], third["capped"]) == (150_000, 0)


def test_a_claim_verified_twice_in_the_feed_is_accrued_once(
    claims: ClaimsApplication, ledger: LedgerApplication
) -> None:
    registered = registration(claims)
    made = Feed(registered.position)
    sink = ClaimsFeedSink(ledger)
    sink.apply([registered, made.verified("once", "p-1")])
    ledger._kept_books.clear()
    sink.apply([made.verified("once", "p-1"), made.verified("once", "p-1")])
    book = ledger.book(CONTRACT)
    assert book.sequence == 1 and -book.balances["payable:provider-a"] == 150_000


def legacy_book(ledger: LedgerApplication, registered: FeedEntry) -> Book:
    """A book as the ledger kept it before lines were kept apart: its events alone (each
    claim's line only in the book's replayed state), no line or allowance aggregates."""
    terms = feed.ContractRegistered.of(registered).terms()
    book = Book(CONTRACT, "GBP", [PERSON_CAP], terms.provider_ids, terms.effective_from)
    made = Feed(0)
    for name in ("old-1", "old-2"):
        booking = feed.ClaimVerified.of(made.verified(name, "p-1")).booking
        accrue(book, claim_id(name), booking, "2026-03")
    ledger.save(book)
    return book


def test_a_book_kept_before_lines_were_apart_is_read_then_moved_apart(
    claims: ClaimsApplication, ledger: LedgerApplication
) -> None:
    legacy_book(ledger, registration(claims))
    assert not ledger.book(CONTRACT).lines_apart
    assert ledger.load(line_id(CONTRACT, claim_id("old-1")), Line) is None
    read = ledger.booked_line(CONTRACT, claim_id("old-2"))  # read from the book's replay
    assert read is not None and (read["accrued"], read["capped"]) == (50_000, 100_000)

    ledger.post_remittance(
        "payer:p", "remit-0001", CONTRACT, "GBP", [RemittanceLine(claim_id("old-1"), 150_000)]
    )
    book = ledger.book(CONTRACT)
    assert book.lines_apart and book.lines == {}
    paid = ledger.load(line_id(CONTRACT, claim_id("old-1")), Line)
    moved = ledger.load(line_id(CONTRACT, claim_id("old-2")), Line)
    assert paid is not None and paid.line["paid"] == 150_000
    assert moved is not None and moved.line == read
    allowance = ledger.load(allowance_id(CONTRACT, "p-1"), Allowance)
    assert allowance is not None and allowance.usage == {"per_person#p-1": 200_000}


def test_a_snapshot_from_before_lines_were_apart_loads_with_them_in_the_working_set() -> None:
    book = Book(CONTRACT, "GBP", [PERSON_CAP], ["provider-a"])
    made = Feed(0)
    booking = feed.ClaimVerified.of(made.verified("old", "p-1")).booking
    accrue(book, claim_id("old"), booking, "2026-03")
    book.collect_events()
    left_out = {"participant_usage", "touched", "_id", "_version", "_pending_events"}
    state = {k: v for k, v in vars(book).items() if k not in left_out}
    state["cap_usage"] = {"per_person#p-1": 150_000}  # as version 1 kept participants' use
    old = LibrarySnapshot(
        originator_id=book.id, originator_version=book.version, timestamp=NOW,
        topic="services.ledger.domain:Book", state=state,
    )  # fmt: skip
    loaded: Any = old.mutate(None)
    assert (loaded.lines_apart, loaded.cap_usage) == (False, {})
    assert loaded.participant_usage == {"per_person#p-1": 150_000}
    assert loaded.lines[claim_id("old")]["accrued"] == 150_000


def test_the_book_refuses_to_post_what_would_break_it() -> None:
    book = Book(CONTRACT, "GBP", [], ["provider-a"])
    unbalanced = [{"account": "payable:provider-a", "amount_minor": -5}]
    with pytest.raises(LedgerInvariantBroken, match="does not balance"):
        book._posted(
            transaction_id="t", kind="payment", claim_id="c", provider_id="provider-a",
            currency="GBP", entries=unbalanced, booked_period="2026-03", corrects_period=None,
            details={"amount": 5},
        )  # fmt: skip
    made = Feed(0)
    booking = feed.ClaimVerified.of(made.verified("c", "p-1")).booking
    accrue(book, "c", booking, "2026-03")
    [accrual] = [e for e in book.collect_events() if getattr(e, "kind", None) == "accrual"]
    with pytest.raises(LedgerInvariantBroken, match="accrued twice"):
        book._posted(**{k: getattr(accrual, k) for k in feed.TransactionPosted.model_fields})
    reverse(book, "c", "2026-03")
    assert book.lines["c"]["reversed"] and sum(book.balances.values()) == 0


def test_the_index_is_emptied_for_its_follower_to_rebuild_with_what_the_book_left(
    urls: dict[str, str],
) -> None:
    """Migration 2026_12_01_0004 adds what the index keeps for the book (payable lines, each
    transaction's corrects_period) and empties it: its follower rebuilds it from position 0."""
    engine = create_engine(sqlalchemy_url(urls["ledger"]))
    try:
        migrate(engine, MIGRATIONS, "alembic_version_ledger", "2026_11_30_0003")
        with engine.begin() as connection:
            connection.execute(sa.insert(index.books).values(stream_id="b", contract_id=CONTRACT))
            connection.execute(
                sa.text(
                    "INSERT INTO ledger_index_transactions (transaction_id, contract_id, "
                    "position, recorded_at, kind, claim_id, provider_id, booked_period, entries,"
                    " details) VALUES ('t', :c, 7, :at, 'accrual', 'a', 'p', '2026-03', '[]', "
                    "'{}')"
                ),
                {"c": CONTRACT, "at": NOW},
            )
            connection.execute(
                sa.insert(feed_positions).values(upstream=index.INDEX_UPSTREAM, position=7)
            )
        migrate(engine, MIGRATIONS, "alembic_version_ledger")
        with engine.connect() as connection:
            for table in (index.books, index.transactions, index.postings, payables.lines):
                assert (
                    connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0
                )
            assert index.index_position(connection) == 0
    finally:
        engine.dispose()


def test_a_reader_waits_for_the_index_within_a_bound(urls: dict[str, str]) -> None:
    engine = create_engine(sqlalchemy_url(urls["ledger"]))
    try:
        migrate(engine, MIGRATIONS, "alembic_version_ledger")
        assert index.wait_for_index(engine, lambda position: False, wait_s=0)
        behind = dt.datetime.now(dt.UTC)
        assert not index.wait_for_index(engine, lambda position: True, wait_s=0.05)
        assert dt.datetime.now(dt.UTC) - behind < dt.timedelta(seconds=2)
    finally:
        engine.dispose()


def test_a_reader_waits_for_what_was_recorded_before_it_came_not_after(
    claims: ClaimsApplication, ledger: LedgerApplication
) -> None:
    """While the ledger books without pause there is always a newer posting than the index
    holds: a reader waits only for those recorded by the time it asked."""
    registered = registration(claims)
    made = Feed(registered.position)
    sink = ClaimsFeedSink(ledger)
    sink.apply([registered, made.verified("early", "p-1")])
    head = ledger.head_position()
    [*_, last_before] = ledger.read_feed(0, 100)
    sink.apply([made.verified("later", "p-2")])  # recorded after the reader came
    lacks = behind(ledger, head)
    assert lacks(0) and lacks(last_before.position - 1)
    assert not lacks(last_before.position)  # the later posting is not waited for
    assert behind(ledger, ledger.head_position())(last_before.position)
