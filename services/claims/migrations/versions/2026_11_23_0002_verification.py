"""Verification: sampling, status times, and each contract's deadlines.

Revision ID: 2026_11_23_0002
Revises: 2026_11_23_0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_23_0002"
down_revision = "2026_11_23_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claim_index") as batch:
        batch.add_column(
            sa.Column("sampled", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("sample_period", sa.String(7), nullable=True))
        batch.add_column(sa.Column("derived_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("status_since", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_claim_index_status_since", "claim_index", ["contract_id", "status", "status_since"]
    )
    op.create_table(
        "claims_contract_settings",
        sa.Column("contract_id", sa.String(64), primary_key=True),
        sa.Column("decision_days", sa.Integer, nullable=False),
        sa.Column("dispute_decision_days", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("claims_contract_settings")
    op.drop_index("ix_claim_index_status_since", "claim_index")
    with op.batch_alter_table("claim_index") as batch:
        for column in ("status_since", "derived_at", "sample_period", "sampled"):
            batch.drop_column(column)
