"""The ledger's transaction index: every posted transaction and its postings, in SQL.

Built by a local follower of the ledger's own feed (like the claims index), so a transaction
can be found by its id, and an account's postings read in order with a running balance,
without loading every book.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shared.feed.envelope import FeedEntry

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
    if entry.type == "ledger.book_opened":
        connection.execute(
            sa.insert(books).values(
                stream_id=entry.stream_id, contract_id=entry.data["contract_id"]
            )
        )
    elif entry.type == "ledger.transaction_posted":
        _index_transaction(connection, entry)


def _index_transaction(connection: Connection, entry: FeedEntry) -> None:
    data = entry.data
    contract_id = connection.execute(
        sa.select(books.c.contract_id).where(books.c.stream_id == entry.stream_id)
    ).scalar_one()
    connection.execute(
        sa.insert(transactions).values(
            transaction_id=data["transaction_id"],
            contract_id=contract_id,
            position=entry.position,
            recorded_at=entry.recorded_at,
            kind=data["kind"],
            claim_id=data["claim_id"],
            provider_id=data["provider_id"],
            booked_period=data["booked_period"],
            entries=json.dumps(data["entries"]),
            details=json.dumps(data["details"]),
        )
    )
    connection.execute(
        sa.insert(postings),
        [
            {
                "transaction_id": data["transaction_id"],
                "line": line,
                "contract_id": contract_id,
                "account": posting["account"],
                "position": entry.position,
                "amount_minor": int(posting["amount_minor"]),
            }
            for line, posting in enumerate(data["entries"])
        ],
    )
