"""Running money totals per contract, provider and ledger month, so a live report reads a row
per provider and month instead of summing a row per ledger transaction; filled here from the
transaction rows already kept (no feed replay).

Revision ID: 2026_11_30_0010
Revises: 2026_11_30_0009
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_30_0010"
down_revision = "2026_11_30_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mx_money_totals",
        sa.Column("contract_id", sa.String(64), primary_key=True),
        sa.Column("provider_id", sa.String(64), primary_key=True),
        sa.Column("booked_period", sa.String(7), primary_key=True),
        sa.Column("outcome_minor", sa.BigInteger, nullable=False),
        sa.Column("paid_minor", sa.BigInteger, nullable=False),
        sa.Column("capped_minor", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO mx_money_totals (contract_id, provider_id, booked_period, outcome_minor, "
        "paid_minor, capped_minor) SELECT contract_id, provider_id, booked_period, "
        "sum(outcome_minor), sum(paid_minor), sum(capped_minor) FROM mx_money "
        "GROUP BY contract_id, provider_id, booked_period"
    )


def downgrade() -> None:
    op.drop_table("mx_money_totals")
