"""The transaction index: transactions by id, postings by account, and its feed position.

Revision ID: 2026_11_23_0002
Revises: 2026_11_23_0001
Create Date: 2026-11-23
"""

from alembic import op

from services.ledger.readmodels import transactions as index
from shared.sqlviews import feed_positions, metadata_positions

revision = "2026_11_23_0002"
down_revision = "2026_11_23_0001"
branch_labels = None
depends_on = None

CREATED = (index.books, index.transactions, index.postings)


def upgrade() -> None:
    metadata_positions.create_all(bind=op.get_bind(), tables=[feed_positions])
    index.metadata.create_all(bind=op.get_bind(), tables=list(CREATED))


def downgrade() -> None:
    index.metadata.drop_all(bind=op.get_bind(), tables=list(reversed(CREATED)))
    metadata_positions.drop_all(bind=op.get_bind(), tables=[feed_positions])
