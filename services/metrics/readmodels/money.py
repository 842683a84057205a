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

from services.metrics.readmodels.tables import (
    books,
    claim_outcomes,
    money,
    money_totals,
    outcome_money,
    rejections,
)
from shared.feed import accounts
from shared.feed import catalogue as feed
from shared.feed.envelope import FeedEntry
from shared.identifiers import participant_stream_id
from shared.sqlviews import add_counts, insert_rows

# what metrics reads of these feeds; its followers ask for only these
DECISION_FEED_TYPES = frozenset({feed.ClaimRejected.TYPE})
LEDGER_FEED_TYPES = frozenset({feed.BookOpened.TYPE, feed.TransactionPosted.TYPE})
FIGURES = ("outcome_minor", "paid_minor", "capped_minor")
OUTCOME_FIGURES = (*FIGURES, "claims")  # claims: booked less reversed
UNKNOWN_OUTCOME = "unknown"  # a claim accrued before mx_claim_outcomes (see its migration)


class MoneyHandler:
    """Money from the ledger feed: book openings and one row per transaction, a page at a
    time (or an entry at a time, with the same effects)."""

    def __call__(self, connection: Connection, entry: FeedEntry) -> None:
        self.page(connection, [entry])

    def page(self, connection: Connection, entries: list[FeedEntry]) -> None:
        opened: dict[str, str] = {}  # book stream -> contract
        outcomes: dict[str, str] = {}  # claim -> outcome, of the accruals in this page
        rows: list[dict[str, Any]] = []
        for entry in entries:
            if entry.type == feed.BookOpened.TYPE:
                opened[entry.stream_id] = feed.BookOpened.of(entry).contract_id
            elif entry.type == feed.TransactionPosted.TYPE:
                posted = feed.TransactionPosted.of(entry)
                if posted.kind == accounts.Kind.ACCRUAL:  # its booking names its outcome
                    outcomes[posted.claim_id] = posted.accrual().line.outcome_id
                rows.append(
                    {
                        "position": entry.position,
                        "stream_id": entry.stream_id,
                        "claim_id": posted.claim_id,
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
            by_outcome = _by_outcome(connection, rows, outcomes)
            kept = [{k: v for k, v in row.items() if k != "claim_id"} for row in rows]
            insert_rows(connection, money, kept)  # mx_money keeps no claim
            add_counts(connection, money_totals, summed(rows, FIGURES), FIGURES)
            per_outcome = summed(by_outcome, OUTCOME_FIGURES, "outcome_id")
            add_counts(connection, outcome_money, per_outcome, OUTCOME_FIGURES)


def _by_outcome(
    connection: Connection, rows: list[dict[str, Any]], outcomes: dict[str, str]
) -> list[dict[str, Any]]:
    """The page's rows, each taking its claim's outcome (a payment, netting or reversal
    finds it where its claim was accrued); records the page's accruals' outcomes."""
    if outcomes:
        insert_rows(
            connection,
            claim_outcomes,
            [{"claim_id": c, "outcome_id": o} for c, o in outcomes.items()],
        )
    wanted = sorted({row["claim_id"] for row in rows} - outcomes.keys())
    for start in range(0, len(wanted), 500):
        found = connection.execute(
            sa.select(claim_outcomes.c.claim_id, claim_outcomes.c.outcome_id).where(
                claim_outcomes.c.claim_id.in_(wanted[start : start + 500])
            )
        )
        outcomes.update((row[0], row[1]) for row in found)
    by_outcome = []
    for row in rows:
        claims = {accounts.Kind.ACCRUAL: 1, accounts.Kind.REVERSAL: -1}.get(row["kind"], 0)
        outcome = outcomes.get(row["claim_id"], UNKNOWN_OUTCOME)
        by_outcome.append({**row, "outcome_id": outcome, "claims": claims})
    return by_outcome


def summed(
    rows: list[dict[str, Any]], figures: tuple[str, ...], *more: str
) -> list[dict[str, Any]]:
    """A page's money rows' figures summed per contract, provider and ledger month (and
    ``more``)."""
    names = ("contract_id", "provider_id", "booked_period", *more)
    totals: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[name] for name in names)
        empty = dict(zip(names, key, strict=True)) | dict.fromkeys(figures, 0)
        total = totals.setdefault(key, empty)
        for figure in figures:
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
