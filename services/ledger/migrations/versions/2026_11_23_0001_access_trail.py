"""The append-only access trail (the ledger's books live in its event store).

Revision ID: 2026_11_23_0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

from shared.trail import create_trail_table

revision = "2026_11_23_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_trail_table(op)


def downgrade() -> None:
    op.drop_table("access_trail")
