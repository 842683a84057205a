"""Claim index and feed positions.

Revision ID: 2026_11_23_0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_23_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_positions",
        sa.Column("upstream", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "claim_index",
        sa.Column("claim_id", sa.String(36), primary_key=True),
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("participant_id", sa.String(64), nullable=False),
        sa.Column("outcome_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("contract_version", sa.Integer, nullable=False),
        sa.Column("derived_position", sa.BigInteger, nullable=False, unique=True),
        sa.Column("updated_position", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_claim_index_contract_position", "claim_index", ["contract_id", "derived_position"]
    )
    op.create_index(
        "ix_claim_index_contract_status_position",
        "claim_index",
        ["contract_id", "status", "derived_position"],
    )


def downgrade() -> None:
    op.drop_table("claim_index")
    op.drop_table("feed_positions")
