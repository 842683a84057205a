"""Ledger use cases: book what the claims feed says, take remittances, report the books."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import Any
from uuid import UUID

from services.ledger.booking import (
    RemittanceLine,
    accrue,
    check_remittance,
    remit,
    reverse,
)
from services.ledger.domain import (
    CATALOGUE,
    Book,
    LedgerRuleError,
    PeriodAlreadyClosed,
    book_id,
)
from services.ledger.errors import (
    BookNotFound,
    PeriodCloseRefused,
    RemittanceKeyReused,
    RemittanceRefused,
)
from shared.errors import FieldProblem, InvalidInput
from shared.eventstore import OutcomesApplication, retrying
from shared.feed import catalogue as feed
from shared.feed.envelope import FeedEntry
from shared.idempotency import IdempotencyReceipt, earlier_answer
from shared.identifiers import canonical_sha256
from shared.periods import month_of
from shared.rules.caps import caps_of

CLAIMS_UPSTREAM = "claims"
# what the ledger books from the claims feed; its follower reads only these
CLAIMS_TYPES = frozenset(
    {
        feed.ContractRegistered.TYPE,
        feed.ContractAmended.TYPE,
        feed.ClaimVerified.TYPE,
        feed.ClaimReversalRequested.TYPE,
    }
)
KEPT_BOOKS = 16


class LedgerApplication(OutcomesApplication):
    name = "ledger"
    catalogue = CATALOGUE
    # A book's state grows with its claims (a payable line each): each snapshot costs time in
    # proportion, and the follower keeps its books in memory, so loads are rare.
    snapshotting_intervals = {Book: 1000}

    def __init__(
        self,
        database_url: str,
        clock: Callable[[], dt.datetime],
        store_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(database_url, store_env)
        self._clock = clock
        self._kept_books: dict[UUID, Book] = {}  # the claims follower's, see apply_claims_page
        self._locks_guard = threading.Lock()
        self._remittance_locks: dict[str, threading.Lock] = {}

    def book(self, contract_id: str) -> Book:
        book = self.load(book_id(contract_id), Book)
        if book is None:
            raise BookNotFound(contract_id)
        return book

    def book_as_of(self, contract_id: str, moment: dt.datetime) -> Book:
        """The book exactly as it stood at a past moment: its events recorded by then."""
        self.book(contract_id)
        version = None
        recorded: Any = self.events.get(book_id(contract_id))
        for domain_event in recorded:
            if domain_event.timestamp > moment:
                break
            version = domain_event.originator_version
        if version is None:
            raise BookNotFound(f"{contract_id} (not opened by {moment.isoformat()})")
        book: Any = self.repository.get(book_id(contract_id), version=version)
        assert isinstance(book, Book)
        return book

    # ---- the claims feed -----------------------------------------------------------------------
    def apply_claims_page(self, entries: list[FeedEntry]) -> None:
        """Book a page of the claims feed, and its position, in one transaction.

        The follower keeps the books it saved (bounded) and reuses one while the store holds
        no newer event of it (one indexed query), instead of loading it afresh per page: a
        book's state grows with its claims. Only the follower's thread uses them, and they are
        dropped when a page fails, so a half-applied page never survives in memory."""
        try:
            self._apply_claims_page(entries)
        except BaseException:
            self._kept_books.clear()
            raise

    def _apply_claims_page(self, entries: list[FeedEntry]) -> None:
        books: dict[UUID, Book] = {}
        for entry in entries:
            if entry.type == feed.ContractRegistered.TYPE:
                registered = feed.ContractRegistered.of(entry)
                terms = registered.terms()
                opened = Book(
                    registered.contract_id,
                    terms.currency,
                    caps_of(terms),
                    terms.provider_ids,
                    terms.effective_from,
                )
                books[opened.id] = opened
            elif entry.type == feed.ContractAmended.TYPE:
                terms = feed.ContractAmended.of(entry).terms()
                book = self._in_page(books, terms.contract_id)
                book.change_terms(caps_of(terms), terms.provider_ids)
            elif entry.type == feed.ClaimVerified.TYPE:
                verified = feed.ClaimVerified.of(entry)
                book = self._in_page(books, verified.booking.contract_id)
                accrue(book, entry.stream_id, verified.booking, month_of(entry.recorded_at),
                       verified.amendment_id())  # fmt: skip
            elif entry.type == feed.ClaimReversalRequested.TYPE:
                reversal = feed.ClaimReversalRequested.of(entry)
                book = self._in_page(books, reversal.booking.contract_id)
                reverse(book, entry.stream_id, month_of(entry.recorded_at),
                        reversal.amendment_id())  # fmt: skip
        self.save_tracked(list(books.values()), CLAIMS_UPSTREAM, entries[-1].position)
        for key, book in books.items():
            if key not in self._kept_books and len(self._kept_books) >= KEPT_BOOKS:
                self._kept_books.pop(next(iter(self._kept_books)))
            self._kept_books[key] = book

    def _in_page(self, books: dict[UUID, Book], contract_id: str) -> Book:
        key = book_id(contract_id)
        if key not in books:
            kept = self._kept_books.get(key)
            fresh = kept is not None and not self.recorder.select_events(
                key, gt=kept.version, limit=1
            )
            books[key] = kept if kept is not None and fresh else self.book(contract_id)
        return books[key]

    # ---- remittances ---------------------------------------------------------------------------
    def post_remittance(
        self, actor: str, key: str, contract_id: str, currency: str, lines: list[RemittanceLine]
    ) -> list[dict[str, Any]]:
        """Record a payment; the same key and body answer the first result again."""
        digest = canonical_sha256(
            {"contract_id": contract_id, "currency": currency, "lines": [asdict(x) for x in lines]}
        )
        with self._remittance_lock(contract_id):  # this replica's remittances, one at a time
            return retrying(
                lambda: self._post_remittance(actor, key, digest, contract_id, currency, lines)
            )

    def _remittance_lock(self, contract_id: str) -> threading.Lock:
        """Remittances to one book are serialised within a replica (each changes the whole
        book); replicas that collide retry with backoff (:func:`retrying`)."""
        with self._locks_guard:
            return self._remittance_locks.setdefault(contract_id, threading.Lock())

    def _post_remittance(
        self,
        actor: str,
        key: str,
        digest: str,
        contract_id: str,
        currency: str,
        lines: list[RemittanceLine],
    ) -> list[dict[str, Any]]:
        scope = f"remittance:{contract_id}"  # keys are the caller's own, per contract
        earlier = earlier_answer(
            self.load, scope, actor, key, digest,
            lambda: RemittanceKeyReused("this Idempotency-Key was used with another remittance"),
            legacy_scope="remittance",
        )  # fmt: skip
        if earlier is not None:
            return earlier
        book = self.book(contract_id)
        problems = check_remittance(book, currency, lines)
        if problems:
            raise RemittanceRefused("the remittance cannot be booked", problems)
        results = remit(book, f"{actor}:{key}", lines, month_of(self._clock()))
        self.save(book, IdempotencyReceipt(scope, actor, key, digest, results))
        return results

    # ---- periods ---------------------------------------------------------------------------------
    def close_period(self, contract_id: str, period: str, actor: str) -> Book:
        book = self.book(contract_id)
        if period >= month_of(self._clock()):
            raise PeriodCloseRefused(f"period {period} has not ended yet")
        earliest = book.first_period() or EARLIEST_PERIOD
        if period < earliest:
            raise InvalidInput(
                f"period {period} is before the contract started: nothing could be booked in it",
                [FieldProblem("period", f"on or after {earliest}, the contract's first month")],
            )
        try:
            book.close_period(period, actor)
        except PeriodAlreadyClosed as exc:
            raise PeriodCloseRefused(str(exc)) from None
        self.save(book)
        return book


# books opened before the contract's start was recorded on them: events before 1990 are refused
# at intake, so nothing books earlier
EARLIEST_PERIOD = "1990-01"


class ClaimsFeedSink:
    """Adapts the ledger application to the follower's sink protocol."""

    def __init__(self, application: LedgerApplication) -> None:
        self._application = application

    def position(self) -> int:
        return self._application.tracked_position(CLAIMS_UPSTREAM)

    def apply(self, entries: list[FeedEntry]) -> None:
        if entries:
            self._application.apply_claims_page(entries)


__all__ = ["ClaimsFeedSink", "LedgerApplication", "LedgerRuleError"]
