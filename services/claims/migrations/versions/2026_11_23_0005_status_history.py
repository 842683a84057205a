"""Each claim's statuses over time, for claim lists as known at a past moment.

The claim index is emptied and its feed position forgotten, so the local follower rebuilds
both from the claims feed at the next start (the history of existing claims included).

Revision ID: 2026_11_23_0005
Revises: 2026_11_23_0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_23_0005"
down_revision = "2026_11_23_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claim_status_history",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("claim_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_claim_status_history_claim", "claim_status_history", ["claim_id", "recorded_at"]
    )
    op.execute("DELETE FROM claim_index")
    op.execute("DELETE FROM feed_positions WHERE upstream = 'claims'")


def downgrade() -> None:
    op.drop_table("claim_status_history")
