"""Webhook subscriptions and their deliveries (an outbox filled by a follower of the feed).

Revision ID: 2026_11_30_0003
Revises: 2026_11_23_0002
Create Date: 2026-11-30
"""

from alembic import op

from services.ledger.webhooks import store

revision = "2026_11_30_0003"
down_revision = "2026_11_23_0002"
branch_labels = None
depends_on = None

CREATED = (store.subscriptions, store.deliveries)


def upgrade() -> None:
    store.metadata.create_all(bind=op.get_bind(), tables=list(CREATED))


def downgrade() -> None:
    store.metadata.drop_all(bind=op.get_bind(), tables=list(reversed(CREATED)))
