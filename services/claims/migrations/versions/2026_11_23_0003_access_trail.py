"""The append-only access trail.

Revision ID: 2026_11_23_0003
Revises: 2026_11_23_0002
Create Date: 2026-11-23
"""

from alembic import op

from shared.trail import create_trail_table

revision = "2026_11_23_0003"
down_revision = "2026_11_23_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_trail_table(op)


def downgrade() -> None:
    op.drop_table("access_trail")
