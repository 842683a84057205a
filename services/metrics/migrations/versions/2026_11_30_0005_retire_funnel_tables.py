"""Retire the first funnel's tables: ``/funnel`` now answers from the report cube, whose
participants' shares gain an ``events`` measure (live events per stage and month).

The upgrade recomputes every participant's share of the cube from its stored live events, so
the cube holds the new measure at once (no replay of the claims feed); it reads each participant
once, in chunks. The downgrade recreates the old tables empty: after it, run
``outcomes metrics rebuild`` to fill them again.

Revision ID: 2026_11_30_0005
Revises: 2026_11_23_0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from services.metrics.readmodels.performance import PerformanceProjector

revision = "2026_11_30_0005"
down_revision = "2026_11_23_0004"
branch_labels = None
depends_on = None

RETIRED = (
    "metrics_funnel_counts",
    "metrics_participant_stages",
    "metrics_participants",
    "metrics_contracts",
)


def upgrade() -> None:
    for table in RETIRED:
        op.drop_table(table)
    PerformanceProjector().recompute_all(op.get_bind())


def downgrade() -> None:
    op.create_table(
        "metrics_contracts",
        sa.Column("contract_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("stages", sa.Text, nullable=False),
        sa.Column("providers", sa.Text, nullable=False, server_default="[]"),
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
