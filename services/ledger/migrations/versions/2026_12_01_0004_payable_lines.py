"""What the book no longer holds (issue 20, point 1), kept by the transaction index instead:
a row per booked claim (what is payable) and each transaction's ``corrects_period`` (a month's
corrections). The index is emptied here and its follower rebuilds it from the ledger's own
feed, which holds both: until it has caught up, the routes that read it answer 503 with
``Retry-After``.

Revision ID: 2026_12_01_0004
Revises: 2026_11_30_0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from services.ledger.readmodels import payables
from services.ledger.readmodels import transactions as index
from shared.sqlviews import feed_positions

revision = "2026_12_01_0004"
down_revision = "2026_11_30_0003"
branch_labels = None
depends_on = None

TABLE = "ledger_index_transactions"
CORRECTIONS_INDEX = "ix_ledger_index_transactions_corrections"
REBUILT = (index.postings, index.transactions, index.books)


def upgrade() -> None:
    connection = op.get_bind()
    # a store created at this code's revision 0002 made the table as it is now (0002 creates
    # it from the live definition): the column and its index are then there already
    found = sa.inspect(connection)
    if "corrects_period" not in {c["name"] for c in found.get_columns(TABLE)}:
        op.add_column(TABLE, sa.Column("corrects_period", sa.String(8), nullable=True))
    if CORRECTIONS_INDEX not in {i["name"] for i in found.get_indexes(TABLE)}:
        where = sa.text("corrects_period IS NOT NULL")
        op.create_index(
            CORRECTIONS_INDEX, TABLE, ["contract_id", "booked_period", "position"],
            postgresql_where=where, sqlite_where=where,
        )  # fmt: skip
    payables.metadata.create_all(bind=connection, tables=[payables.lines])
    for table in REBUILT:
        connection.execute(sa.delete(table))
    connection.execute(
        sa.delete(feed_positions).where(feed_positions.c.upstream == index.INDEX_UPSTREAM)
    )


def downgrade() -> None:
    payables.metadata.drop_all(bind=op.get_bind(), tables=[payables.lines])
    op.drop_index(CORRECTIONS_INDEX, TABLE)
    op.drop_column(TABLE, "corrects_period")
