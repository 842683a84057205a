"""The providers of each contract, so metrics can refuse a provider outside it.

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
    with op.batch_alter_table("metrics_contracts") as batch:
        batch.add_column(sa.Column("providers", sa.Text, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("metrics_contracts") as batch:
        batch.drop_column("providers")
