"""Ledger use cases: book what the claims feed says, and report balances."""

from __future__ import annotations

from uuid import UUID

from services.ledger.domain import CATALOGUE, Book, book_id
from services.ledger.errors import BookNotFound
from shared.eventstore import OutcomesApplication
from shared.feed.envelope import FeedEntry

CLAIMS_UPSTREAM = "claims"


class LedgerApplication(OutcomesApplication):
    name = "ledger"
    catalogue = CATALOGUE
    snapshotting_intervals = {Book: 200}

    def book(self, contract_id: str) -> Book:
        book = self.load(book_id(contract_id), Book)
        if book is None:
            raise BookNotFound(contract_id)
        return book

    def apply_claims_page(self, entries: list[FeedEntry]) -> None:
        """Book a page of the claims feed, and its position, in one transaction."""
        books: dict[UUID, Book] = {}
        for entry in entries:
            if entry.type == "contract.registered":
                contract_id = entry.data["contract_id"]
                currency = entry.data["rulebook"]["currency"]
                books[book_id(contract_id)] = Book(contract_id, currency)
            elif entry.type == "claim.verified":
                booking = entry.data["booking"]
                book = self._book_in_page(books, booking["contract_id"])
                book.accrue(entry.stream_id, booking)
        self.save_tracked(list(books.values()), CLAIMS_UPSTREAM, entries[-1].position)

    def _book_in_page(self, books: dict[UUID, Book], contract_id: str) -> Book:
        key = book_id(contract_id)
        if key not in books:
            books[key] = self.book(contract_id)
        return books[key]


class ClaimsFeedSink:
    """Adapts the ledger application to the follower's sink protocol."""

    def __init__(self, application: LedgerApplication) -> None:
        self._application = application

    def position(self) -> int:
        return self._application.tracked_position(CLAIMS_UPSTREAM)

    def apply(self, entries: list[FeedEntry]) -> None:
        if entries:
            self._application.apply_claims_page(entries)
