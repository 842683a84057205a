"""What is payable: a row per booked claim, kept by the transaction index's follower.

The payables list reads here instead of from the contract's book, whose state no longer holds
a line per claim (issue 20, point 1). Each accrual adds a row numbered in the order the book
accrued it (the list's cursor); payments, nettings and reversals change it. A partial index on
what is still outstanding keeps a page's cost independent of how many lines were paid.

The rows are as current as the index: a reader that must see the ledger's own latest postings
first waits for the index to catch up
(:func:`services.ledger.readmodels.transactions.wait_for_index`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shared.feed import accounts
from shared.feed import catalogue as feed

metadata = sa.MetaData()

lines = sa.Table(
    "ledger_index_lines",
    metadata,
    sa.Column("contract_id", sa.String(64), primary_key=True),
    sa.Column("claim_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("provider_id", sa.String(64), nullable=False),
    sa.Column("outcome_id", sa.String(64), nullable=False),
    sa.Column("occurred_on", sa.String(10), nullable=False),
    sa.Column("accrued_minor", sa.BigInteger, nullable=False),
    sa.Column("capped_minor", sa.BigInteger, nullable=False),
    sa.Column("cap_id", sa.String(64), nullable=True),
    sa.Column("paid_minor", sa.BigInteger, nullable=False),
    sa.Column("netted_minor", sa.BigInteger, nullable=False),
    sa.Column("reversed", sa.Boolean, nullable=False),
    sa.Column("outstanding_minor", sa.BigInteger, nullable=False),
    sa.Index("ix_ledger_index_lines_seq", "contract_id", "seq", unique=True),
    sa.Index(
        "ix_ledger_index_lines_outstanding",
        "contract_id",
        "seq",
        postgresql_where=sa.text("outstanding_minor > 0"),
        sqlite_where=sa.text("outstanding_minor > 0"),
    ),
)


def apply_posting(connection: Connection, contract_id: str, posted: feed.TransactionPosted) -> None:
    """Change the payables as one posted transaction does."""
    kind, claim_id = accounts.Kind(posted.kind), posted.claim_id
    if kind is accounts.Kind.ACCRUAL:
        line = posted.accrual().line
        connection.execute(
            sa.insert(lines).values(
                contract_id=contract_id, claim_id=claim_id,
                seq=latest_sequence(connection, contract_id) + 1,
                provider_id=line.provider_id, outcome_id=line.outcome_id,
                occurred_on=line.occurred_on, accrued_minor=line.accrued,
                capped_minor=line.capped, cap_id=line.cap_id, paid_minor=0,
                netted_minor=0, reversed=False, outstanding_minor=line.accrued,
            )
        )  # fmt: skip
        return
    changes: dict[str, Any]
    if kind is accounts.Kind.PAYMENT:
        amount = posted.payment().amount
        changes = {"paid_minor": lines.c.paid_minor + amount}
    elif kind is accounts.Kind.NETTING:
        amount = posted.netting().amount
        changes = {"netted_minor": lines.c.netted_minor + amount}
    elif kind is accounts.Kind.REVERSAL:
        amount = 0
        changes = {"reversed": True, "outstanding_minor": 0}
    else:  # an overpayment is owed back by the provider: no line changes
        return
    if kind is not accounts.Kind.REVERSAL:
        changes["outstanding_minor"] = sa.case(
            (lines.c.reversed, 0), else_=lines.c.outstanding_minor - amount
        )
    connection.execute(
        sa.update(lines)
        .where(lines.c.contract_id == contract_id, lines.c.claim_id == claim_id)
        .values(**changes)
    )


def payables_page(
    connection: Connection, contract_id: str, provider_id: str | None, after: int, limit: int
) -> list[dict[str, Any]]:
    """Lines still payable after the cursor, in the order they were accrued."""
    where = [
        lines.c.contract_id == contract_id,
        lines.c.outstanding_minor > 0,
        lines.c.seq > after,
    ]
    if provider_id is not None:
        where.append(lines.c.provider_id == provider_id)
    rows = connection.execute(
        sa.select(lines).where(*where).order_by(lines.c.seq).limit(limit)
    ).all()
    return [
        {
            "payable_id": row.claim_id,
            "provider_id": row.provider_id,
            "outcome_id": row.outcome_id,
            "occurred_on": row.occurred_on,
            "accrued_minor": row.accrued_minor,
            "capped_minor": row.capped_minor,
            "cap_id": row.cap_id,
            "paid_minor": row.paid_minor,
            "netted_minor": row.netted_minor,
            "outstanding_minor": row.outstanding_minor,
            "sequence": row.seq,
        }
        for row in rows
    ]


def latest_sequence(connection: Connection, contract_id: str) -> int:
    """The number of the contract's latest accrual (0 before any)."""
    found = connection.execute(
        sa.select(sa.func.max(lines.c.seq)).where(lines.c.contract_id == contract_id)
    ).scalar_one()
    return int(found or 0)
