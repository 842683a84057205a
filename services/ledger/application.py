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
from services.ledger.lines import Allowance, Line, LineState, allowance_id, line_id
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
    # A book's state is bounded (its claims' lines are aggregates of their own), so a snapshot
    # costs the same however many claims the contract has; lines and allowances never need one.
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
        """A contract's book, its working set empty (or, for a book whose lines were never
        moved apart, every line as its replay left them)."""
        book = self.load(book_id(contract_id), Book)
        if book is None:
            raise BookNotFound(contract_id)
        if book.lines_apart:
            book.forget()  # what replay since the snapshot put there is partial
        return book

    def booked_line(self, contract_id: str, claim_id: str) -> LineState | None:
        """How the book booked one claim, or ``None`` if it was never accrued."""
        found = self.load(line_id(contract_id, claim_id), Line)
        if found is not None:
            return found.line
        book = self.book(contract_id)
        return None if book.lines_apart else book.lines.get(claim_id)

    def _writable_book(self, contract_id: str) -> Book:
        """A book to post to: one whose lines were never moved apart has them moved first."""
        book = self.book(contract_id)
        if not book.lines_apart:
            self._move_lines_apart(book)
        return book

    def _move_lines_apart(self, book: Book) -> None:
        """Give a book opened before lines were kept apart (its replay holds them all) a line
        aggregate per claim and an allowance per participant, in one transaction."""
        lines = [Line(book.contract_id, c, line) for c, line in book.lines.items()]
        allowances = [
            Allowance(book.contract_id, person, usage)
            for person, usage in _by_participant(book.participant_usage).items()
        ]
        book.lines_moved_apart()
        self.save(book, *lines, *allowances)
        book.forget()

    def _read_in(
        self, book: Book, claim_ids: set[str], participant_ids: set[str]
    ) -> tuple[dict[str, Line], dict[str, Allowance]]:
        """Read these claims' lines and participants' allowances into the book's working set;
        the aggregates read, by claim and by participant, to save their changes to."""
        contract = book.contract_id
        lines = {
            found.claim_id: found
            for found in self.load_many([line_id(contract, c) for c in claim_ids], Line).values()
        }
        people = participant_ids | {line.line["participant_id"] for line in lines.values()}
        allowances = {
            found.participant_id: found
            for found in self.load_many(
                [allowance_id(contract, p) for p in people], Allowance
            ).values()
        }
        book.take_in(
            {claim: line.line for claim, line in lines.items()},
            {k: v for found in allowances.values() for k, v in found.usage.items()},
        )
        return lines, allowances

    @staticmethod
    def _changed_apart(
        book: Book, lines: dict[str, Line], allowances: dict[str, Allowance]
    ) -> list[Line | Allowance]:
        """The line and allowance aggregates a booking changed (new ones created), for saving
        with the book; the book's working set is then forgotten."""
        changed: list[Line | Allowance] = []
        for claim_id in sorted(book.touched):
            state = book.lines[claim_id]
            kept = lines.get(claim_id)
            if kept is None:
                changed.append(Line(book.contract_id, claim_id, state))
            else:
                kept.record(state)
                changed.append(kept)
        for person, usage in _by_participant(book.participant_usage).items():
            allowance = allowances.get(person)
            if allowance is None:
                changed.append(Allowance(book.contract_id, person, usage))
            else:
                allowance.record(usage)
                changed.append(allowance)
        book.forget()
        return [aggregate for aggregate in changed if aggregate.pending_events]

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
        if book.lines_apart:
            book.forget()  # what replay since the snapshot put there is partial
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
        bookings = _bookings(entries)
        concerns = _concerns(entries, bookings)
        books: dict[UUID, Book] = {}
        apart: dict[UUID, tuple[dict[str, Line], dict[str, Allowance]]] = {}

        def in_page(contract_id: str) -> Book:
            book = self._in_page(books, contract_id)
            if book.id not in apart:
                claims, people = concerns.get(contract_id, (set(), set()))
                apart[book.id] = self._read_in(book, claims, people)
            return book

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
                opened.lines_moved_apart()  # its lines are aggregates from the start
                books[opened.id] = opened
                apart[opened.id] = ({}, {})  # a new book: no line or allowance yet
            elif entry.type == feed.ContractAmended.TYPE:
                terms = feed.ContractAmended.of(entry).terms()
                in_page(terms.contract_id).change_terms(caps_of(terms), terms.provider_ids)
            elif entry.type == feed.ClaimVerified.TYPE:
                verified = bookings[entry.position]
                book = in_page(verified.booking.contract_id)
                accrue(book, entry.stream_id, verified.booking, month_of(entry.recorded_at),
                       verified.amendment_id())  # fmt: skip
            elif entry.type == feed.ClaimReversalRequested.TYPE:
                reversal = bookings[entry.position]
                book = in_page(reversal.booking.contract_id)
                reverse(book, entry.stream_id, month_of(entry.recorded_at),
                        reversal.amendment_id())  # fmt: skip
        changed = [
            aggregate
            for key, book in books.items()
            for aggregate in self._changed_apart(book, *apart.get(key, ({}, {})))
        ]
        self.save_tracked([*books.values(), *changed], CLAIMS_UPSTREAM, entries[-1].position)
        for key, book in books.items():
            if key not in self._kept_books and len(self._kept_books) >= KEPT_BOOKS:
                self._kept_books.pop(next(iter(self._kept_books)))
            self._kept_books[key] = book

    def _in_page(self, books: dict[UUID, Book], contract_id: str) -> Book:
        key = book_id(contract_id)
        if key not in books:
            kept = self._kept_books.get(key)
            fresh = kept is not None and not self.has_newer(key, kept.version)
            books[key] = kept if kept is not None and fresh else self._writable_book(contract_id)
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
        book = self._writable_book(contract_id)
        read = self._read_in(book, {line.payable_id for line in lines}, set())
        problems = check_remittance(book, currency, lines)
        if problems:
            raise RemittanceRefused("the remittance cannot be booked", problems)
        results = remit(book, f"{actor}:{key}", lines, month_of(self._clock()))
        changed = self._changed_apart(book, *read)
        self.save(book, *changed, IdempotencyReceipt(scope, actor, key, digest, results))
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


def _bookings(entries: list[FeedEntry]) -> dict[int, feed.ClaimTransition]:
    """A page's verifications and reversal requests, read once, by position."""
    kinds = {
        feed.ClaimVerified.TYPE: feed.ClaimVerified,
        feed.ClaimReversalRequested.TYPE: feed.ClaimReversalRequested,
    }
    return {e.position: kinds[e.type].of(e) for e in entries if e.type in kinds}


def _concerns(
    entries: list[FeedEntry], bookings: dict[int, feed.ClaimTransition]
) -> dict[str, tuple[set[str], set[str]]]:
    """Per contract, the claims and participants a page of the claims feed books."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for entry in entries:
        if entry.position in bookings:
            booking = bookings[entry.position].booking
            claims, people = found.setdefault(booking.contract_id, (set(), set()))
            claims.add(entry.stream_id)
            people.add(booking.participant_id)
    return found


def _by_participant(usage: dict[str, int]) -> dict[str, dict[str, int]]:
    """Participant caps' use (``cap#participant`` keys), grouped by participant."""
    found: dict[str, dict[str, int]] = {}
    for key, used in usage.items():
        found.setdefault(key.split("#", 1)[1], {})[key] = used
    return found


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
