"""Funnel read models and feed positions.

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
        "metrics_contracts",
        sa.Column("contract_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("stages", sa.Text, nullable=False),
    )
    op.create_table(
        "metrics_participants",
        sa.Column("stream_id", sa.String(36), primary_key=True),
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("participant_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "metrics_participant_stages",
        sa.Column("stream_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(64), primary_key=True),
        sa.Column("first_occurred_on", sa.Date, nullable=False),
    )
    op.create_table(
        "metrics_funnel_counts",
        sa.Column("contract_id", sa.String(64), primary_key=True),
        sa.Column("provider_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(64), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("participants", sa.BigInteger, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "metrics_funnel_counts",
        "metrics_participant_stages",
        "metrics_participants",
        "metrics_contracts",
        "feed_positions",
    ):
        op.drop_table(table)
