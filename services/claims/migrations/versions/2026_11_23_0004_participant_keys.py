"""Participants' data keys for personal attributes (wrapped; erasable).

Revision ID: 2026_11_23_0004
Revises: 2026_11_23_0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_23_0004"
down_revision = "2026_11_23_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participant_keys",
        sa.Column("contract_id", sa.String(64), primary_key=True),
        sa.Column("participant_id", sa.String(64), primary_key=True),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
        sa.Column("wrapping_key_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_by", sa.String(200), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("participant_keys")
