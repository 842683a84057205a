"""Verifiers' rejections, a row each, for the rejections report. They are read from the claims
feed on a position of their own (``claims-decisions``), which starts at 0, so the rejections
made before this revision arrive when the service next starts, without replaying anything else.

Revision ID: 2026_11_30_0008
Revises: 2026_11_30_0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_30_0008"
down_revision = "2026_11_30_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mx_rejections",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("stream_id", sa.String(36), nullable=False),
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("outcome_id", sa.String(64), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("decided_on", sa.Date, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_mx_rejections_contract_recorded", "mx_rejections", ["contract_id", "recorded_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_mx_rejections_contract_recorded", table_name="mx_rejections")
    op.drop_table("mx_rejections")
    op.execute(sa.text("DELETE FROM feed_positions WHERE upstream = 'claims-decisions'"))
