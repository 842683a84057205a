"""Money and rejections, from the ledger feed and the claims feed's decisions: a row per ledger
transaction (with the ledger month it is booked in; as known at a past moment, reports sum
these), their running totals per provider and ledger month (what a live report reads), and a
row per verifier's rejection."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services.metrics.readmodels.tables import books, money, money_totals, rejections
from shared.feed import accounts
from shared.feed import catalogue as feed
from shared.feed.envelope import FeedEntry
from shared.identifiers import participant_stream_id
from shared.sqlviews import add_counts

# what metrics reads of these feeds; its followers ask for only these
DECISION_FEED_TYPES = frozenset({feed.ClaimRejected.TYPE})
LEDGER_FEED_TYPES = frozenset({feed.BookOpened.TYPE, feed.TransactionPosted.TYPE})
FIGURES = ("outcome_minor", "paid_minor", "capped_minor")


class MoneyHandler:
    """Money from the ledger feed: book openings and one row per transaction, a page at a
    time (or an entry at a time, with the same effects)."""

    def __call__(self, connection: Connection, entry: FeedEntry) -> None:
        self.page(connection, [entry])

    def page(self, connection: Connection, entries: list[FeedEntry]) -> None:
        opened: dict[str, str] = {}  # book stream -> contract
        rows: list[dict[str, Any]] = []
        for entry in entries:
            if entry.type == feed.BookOpened.TYPE:
                opened[entry.stream_id] = feed.BookOpened.of(entry).contract_id
            elif entry.type == feed.TransactionPosted.TYPE:
                posted = feed.TransactionPosted.of(entry)
                rows.append(
                    {
                        "position": entry.position,
                        "stream_id": entry.stream_id,
                        "provider_id": posted.provider_id,
                        "kind": posted.kind,
                        "booked_period": posted.booked_period,
                        "recorded_at": entry.recorded_at,
                        **money_movements(posted.entries),
                    }
                )
        if opened:
            connection.execute(
                sa.insert(books), [{"stream_id": s, "contract_id": c} for s, c in opened.items()]
            )
        unknown = sorted({row["stream_id"] for row in rows} - opened.keys())
        if unknown:
            opened.update(
                (row[0], row[1])
                for row in connection.execute(
                    sa.select(books.c.stream_id, books.c.contract_id).where(
                        books.c.stream_id.in_(unknown)
                    )
                )
            )
        if rows:
            for row in rows:
                row["contract_id"] = opened[row.pop("stream_id")]
            connection.execute(sa.insert(money), rows)
            add_counts(connection, money_totals, summed(rows), FIGURES)


def summed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page's money rows summed per contract, provider and ledger month."""
    totals: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["contract_id"], row["provider_id"], row["booked_period"])
        total = totals.setdefault(
            key,
            {"contract_id": key[0], "provider_id": key[1], "booked_period": key[2]}
            | dict.fromkeys(FIGURES, 0),
        )
        for figure in FIGURES:
            total[figure] += row[figure]
    return list(totals.values())


class DecisionsHandler:
    """Verifiers' rejections from the claims feed, a row each (followed on their own position,
    so adding them needed no replay of the participants' histories)."""

    def __call__(self, connection: Connection, entry: FeedEntry) -> None:
        self.page(connection, [entry])

    def page(self, connection: Connection, entries: list[FeedEntry]) -> None:
        rows = []
        for entry in entries:
            if entry.type != feed.ClaimRejected.TYPE:
                continue
            rejected = feed.ClaimRejected.of(entry)
            booking = rejected.booking
            rows.append(
                {
                    "position": entry.position,
                    "contract_id": booking.contract_id,
                    "stream_id": str(
                        participant_stream_id(booking.contract_id, booking.participant_id)
                    ),
                    "provider_id": booking.provider_id,
                    "outcome_id": booking.outcome_id,
                    "reason_code": rejected.reason_code,
                    "decided_on": dt.datetime.fromisoformat(rejected.at).date(),
                    "recorded_at": entry.recorded_at,
                }
            )
        if rows:
            connection.execute(sa.insert(rejections), rows)


def money_movements(entries: Iterable[feed.Entry]) -> dict[str, int]:
    """What a ledger transaction does to the three figures reports show."""
    outcome = paid = capped = 0
    for leg in entries:
        account, amount = leg.account, leg.amount_minor
        if account == accounts.OUTCOME_PAYMENTS:
            outcome += amount
        elif account == accounts.PAID:
            paid -= amount
        elif account.startswith(accounts.CAPPED_PREFIX):
            capped += amount
    return {"outcome_minor": outcome, "paid_minor": paid, "capped_minor": capped}
