"""Snapshots of the report cube as known at each hour start (a full copy at month starts, the
change over the day at day starts, the change over the hour at other hours), for fast "as
known at" reports, and an index to find the events superseded in a span of time. The snapshots
start empty: the projector takes the missing ones as the claims feed moves on, at most a week
of hours per page, so no upgrade step replays anything.

Revision ID: 2026_11_30_0009
Revises: 2026_11_30_0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_30_0009"
down_revision = "2026_11_30_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_mx_events_contract_superseded", "mx_events", ["contract_id", "superseded_at"]
    )
    op.create_table(
        "mx_snapshots",
        sa.Column("contract_id", sa.String(64), primary_key=True),
        sa.Column("known_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("rulebook_version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
    )
    op.create_index("ix_mx_snapshots_known_at", "mx_snapshots", ["known_at"])
    op.create_table(
        "mx_snapshot_cube",
        sa.Column("contract_id", sa.String(64), primary_key=True),
        sa.Column("known_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("measure", sa.String(16), primary_key=True),
        sa.Column("provider_id", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(200), primary_key=True),
        sa.Column("cohort", sa.String(8), primary_key=True),
        sa.Column("flags", sa.String(1000), primary_key=True),
        sa.Column("k1", sa.String(200), primary_key=True),
        sa.Column("k2", sa.String(64), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mx_snapshot_cube")
    op.drop_index("ix_mx_snapshots_known_at", table_name="mx_snapshots")
    op.drop_table("mx_snapshots")
    op.drop_index("ix_mx_events_contract_superseded", table_name="mx_events")
