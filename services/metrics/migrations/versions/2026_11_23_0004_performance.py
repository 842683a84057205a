"""Performance read models: rule-book versions, bitemporal participant events, the report
cube, and money from the ledger feed.

Revision ID: 2026_11_23_0004
Revises: 2026_11_23_0003
Create Date: 2026-11-23
"""

from alembic import op

from services.metrics.readmodels import tables

revision = "2026_11_23_0004"
down_revision = "2026_11_23_0003"
branch_labels = None
depends_on = None

CREATED = (
    tables.rulebooks,
    tables.participants,
    tables.events,
    tables.participant_cube,
    tables.cube,
    tables.books,
    tables.money,
)


def upgrade() -> None:
    tables.metadata.create_all(bind=op.get_bind(), tables=list(CREATED))


def downgrade() -> None:
    tables.metadata.drop_all(bind=op.get_bind(), tables=list(reversed(CREATED)))
