"""Money by ledger month: each money row keeps the month the ledger booked it in, so the money
report can show a month, the quarter and year to date, and the contract to date as of a
month's end.

The rows already kept do not say their month, so the upgrade empties the money tables and
forgets the ledger feed's position: the service refills them from the ledger feed when it next
starts (a row per transaction; the claims-side read models are untouched).

Revision ID: 2026_11_30_0007
Revises: 2026_11_30_0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_30_0007"
down_revision = "2026_11_30_0006"
branch_labels = None
depends_on = None

LEDGER_UPSTREAM = "ledger"


def _forget_money() -> None:
    op.execute(sa.text("DELETE FROM mx_money"))
    op.execute(sa.text("DELETE FROM mx_books"))
    op.execute(
        sa.text("DELETE FROM feed_positions WHERE upstream = :upstream").bindparams(
            upstream=LEDGER_UPSTREAM
        )
    )


def upgrade() -> None:
    _forget_money()
    with op.batch_alter_table("mx_money") as batch:
        batch.add_column(
            sa.Column("booked_period", sa.String(7), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("mx_money") as batch:
        batch.drop_column("booked_period")
