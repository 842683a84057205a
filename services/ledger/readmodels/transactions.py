"""The ledger's transaction index: every posted transaction and its postings, in SQL.

Built by a local follower of the ledger's own feed (like the claims index), so a transaction
can be found by its id, and an account's postings read in order with a running balance,
without loading every book.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services.ledger.errors import BookNotFound, TransactionNotFound
from services.ledger.readmodels import payables
from shared.feed import accounts
from shared.feed import catalogue as feed
from shared.feed.envelope import FeedEntry
from shared.sqlviews import aware, feed_position

metadata = sa.MetaData()

books = sa.Table(
    "ledger_index_books",
    metadata,
    sa.Column("stream_id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(64), nullable=False),
)

transactions = sa.Table(
    "ledger_index_transactions",
    metadata,
    sa.Column("transaction_id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(64), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False, unique=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("claim_id", sa.String(64), nullable=False, index=True),
    sa.Column("provider_id", sa.String(64), nullable=False),
    sa.Column("booked_period", sa.String(8), nullable=False),
    sa.Column("entries", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("corrects_period", sa.String(8), nullable=True),
    sa.Index(
        "ix_ledger_index_transactions_corrections",
        "contract_id",
        "booked_period",
        "position",
        postgresql_where=sa.text("corrects_period IS NOT NULL"),
        sqlite_where=sa.text("corrects_period IS NOT NULL"),
    ),
)

postings = sa.Table(
    "ledger_index_postings",
    metadata,
    sa.Column("transaction_id", sa.String(36), primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("contract_id", sa.String(64), nullable=False),
    sa.Column("account", sa.String(200), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Index("ix_ledger_index_postings_account", "contract_id", "account", "position"),
)


def apply_entry(connection: Connection, entry: FeedEntry) -> None:
    if entry.type == feed.BookOpened.TYPE:
        opened = feed.BookOpened.of(entry)
        connection.execute(
            sa.insert(books).values(stream_id=entry.stream_id, contract_id=opened.contract_id)
        )
    elif entry.type == feed.TransactionPosted.TYPE:
        _index_transaction(connection, entry, feed.TransactionPosted.of(entry))


def _index_transaction(
    connection: Connection, entry: FeedEntry, posted: feed.TransactionPosted
) -> None:
    contract_id = connection.execute(
        sa.select(books.c.contract_id).where(books.c.stream_id == entry.stream_id)
    ).scalar_one()
    payables.apply_posting(connection, contract_id, posted)
    connection.execute(
        sa.insert(transactions).values(
            transaction_id=posted.transaction_id,
            contract_id=contract_id,
            position=entry.position,
            recorded_at=entry.recorded_at,
            kind=posted.kind,
            claim_id=posted.claim_id,
            provider_id=posted.provider_id,
            booked_period=posted.booked_period,
            entries=json.dumps([leg.model_dump() for leg in posted.entries]),
            details=json.dumps(posted.details),
            corrects_period=posted.corrects_period,
        )
    )
    connection.execute(
        sa.insert(postings),
        [
            {
                "transaction_id": posted.transaction_id,
                "line": line,
                "contract_id": contract_id,
                "account": leg.account,
                "position": entry.position,
                "amount_minor": leg.amount_minor,
            }
            for line, leg in enumerate(posted.entries)
        ],
    )


# ---- queries ---------------------------------------------------------------------------------
SUMMARY = ("transaction_id", "position", "kind", "recorded_at", "entries")


def _row(row: Any) -> dict[str, Any]:
    return {
        "transaction_id": row.transaction_id,
        "contract_id": row.contract_id,
        "position": row.position,
        "recorded_at": aware(row.recorded_at).isoformat(),
        "kind": row.kind,
        "claim_id": row.claim_id,
        "provider_id": row.provider_id,
        "booked_period": row.booked_period,
        "entries": json.loads(row.entries),
        "details": json.loads(row.details),
    }


def explain_transaction(connection: Connection, transaction_id: str) -> dict[str, Any]:
    found = connection.execute(
        sa.select(transactions).where(transactions.c.transaction_id == transaction_id)
    ).one_or_none()
    if found is None:
        raise TransactionNotFound(transaction_id)
    related = connection.execute(
        sa.select(transactions)
        .where(transactions.c.claim_id == found.claim_id)
        .order_by(transactions.c.position)
    ).all()
    return {
        "transaction": _row(found),
        "claim": {
            "claim_id": found.claim_id,
            "explain": f"/v1/explain/claims/{found.claim_id} (claims service)",
            "transactions": [{k: _row(r)[k] for k in SUMMARY} for r in related],
        },
    }


def account_page(
    connection: Connection, contract_id: str, account: str, after: int, limit: int
) -> dict[str, Any]:
    known = connection.execute(
        sa.select(books.c.stream_id).where(books.c.contract_id == contract_id).limit(1)
    ).first()
    if known is None:
        raise BookNotFound(contract_id)
    where = [postings.c.contract_id == contract_id, postings.c.account == account]
    balance = connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(postings.c.amount_minor), 0)).where(
            *where, postings.c.position <= after
        )
    ).scalar_one()
    rows = connection.execute(
        sa.select(
            postings,
            transactions.c.kind,
            transactions.c.claim_id,
            transactions.c.recorded_at,
            transactions.c.details,
        )
        .join(transactions, transactions.c.transaction_id == postings.c.transaction_id)
        .where(*where, postings.c.position > after)
        .order_by(postings.c.position, postings.c.line)
        .limit(limit)
    ).all()
    versions = _rulebook_versions(connection, {row.claim_id for row in rows})
    items = []
    for row in rows:
        balance += row.amount_minor
        items.append(
            {
                "position": row.position,
                "recorded_at": aware(row.recorded_at).isoformat(),
                "transaction_id": row.transaction_id,
                "kind": row.kind,
                "claim_id": row.claim_id,
                "actor": _actor(row.kind, json.loads(row.details)),
                "rulebook_version": versions.get(row.claim_id),
                "amount_minor": row.amount_minor,
                "balance_minor": int(balance),
            }
        )
    next_after = items[-1]["position"] if len(items) == limit else None
    return {
        "contract_id": contract_id,
        "account": account,
        "items": items,
        "next_after": next_after,
    }


def corrections(
    connection: Connection, contract_id: str, period: str, upto: dt.datetime | None
) -> list[dict[str, Any]]:
    """The transactions booked in a month that correct a closed one, in order (those
    recorded by ``upto``, if given)."""
    where = [
        transactions.c.contract_id == contract_id,
        transactions.c.booked_period == period,
        transactions.c.corrects_period.is_not(None),
    ]
    if upto is not None:
        where.append(transactions.c.recorded_at <= upto)
    rows = connection.execute(
        sa.select(
            transactions.c.transaction_id,
            transactions.c.kind,
            transactions.c.claim_id,
            transactions.c.corrects_period,
        )
        .where(*where)
        .order_by(transactions.c.position)
    ).all()
    return [row._asdict() for row in rows]


def _actor(kind: str, details: dict[str, Any]) -> str:
    """Who caused a posting: the payer of a remittance (its id starts with the payer's actor),
    otherwise the ledger itself, booking from the claims feed."""
    if kind in (accounts.Kind.PAYMENT, accounts.Kind.OVERPAYMENT) and "remittance_id" in details:
        return ":".join(str(details["remittance_id"]).split(":", 2)[:2])
    return "system:ledger"


def _rulebook_versions(connection: Connection, claim_ids: set[str]) -> dict[str, int]:
    """The rule-book version each claim was priced under, from its accrual's booking."""
    rows = connection.execute(
        sa.select(transactions.c.claim_id, transactions.c.details).where(
            transactions.c.claim_id.in_(sorted(claim_ids)),
            transactions.c.kind == accounts.Kind.ACCRUAL.value,
        )
    ).all()
    found = {}
    for claim_id, details in rows:
        version = json.loads(details).get("line", {}).get("contract_version")
        if version is not None:
            found[claim_id] = int(version)
    return found


# ---- how far the index has got --------------------------------------------------------------
INDEX_UPSTREAM = "ledger-index"  # the index follower's name in feed_positions
INDEX_WAIT_S = 2.0  # how long a reader waits for the index to catch up with the ledger
_PAUSE_S = 0.01


def index_position(connection: Connection) -> int:
    return feed_position(connection, INDEX_UPSTREAM)


def wait_for_index(
    engine: Engine, newer_than: Callable[[int], bool], wait_s: float = INDEX_WAIT_S
) -> bool:
    """Whether the index caught up with the ledger's own feed within ``wait_s``: the feed holds
    nothing ``newer_than`` its position. It usually has at once (its follower is woken by every
    recording)."""
    deadline = time.monotonic() + wait_s
    pause = threading.Event()
    while True:
        with engine.connect() as connection:
            position = index_position(connection)
        if not newer_than(position):
            return True
        if time.monotonic() >= deadline:
            return False
        pause.wait(_PAUSE_S)
