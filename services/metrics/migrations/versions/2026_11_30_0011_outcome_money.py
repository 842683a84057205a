"""Money per outcome as well as per provider and ledger month (the INDIGO export's outcome
payments), and each booked claim's outcome, which a payment of it is counted under.

The transaction rows kept so far name no claim, so these start empty: they count what the
ledger books from now on, and ``outcomes metrics rebuild`` fills them for the whole history.

Revision ID: 2026_11_30_0011
Revises: 2026_11_30_0010
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_30_0011"
down_revision = "2026_11_30_0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mx_claim_outcomes",
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("outcome_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "mx_outcome_money",
        sa.Column("contract_id", sa.String(64), primary_key=True),
        sa.Column("outcome_id", sa.String(64), primary_key=True),
        sa.Column("provider_id", sa.String(64), primary_key=True),
        sa.Column("booked_period", sa.String(7), primary_key=True),
        sa.Column("outcome_minor", sa.BigInteger, nullable=False),
        sa.Column("paid_minor", sa.BigInteger, nullable=False),
        sa.Column("capped_minor", sa.BigInteger, nullable=False),
        sa.Column("claims", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mx_outcome_money")
    op.drop_table("mx_claim_outcomes")
