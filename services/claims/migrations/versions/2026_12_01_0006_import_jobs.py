"""Import jobs: a provider's uploaded file, in parts, its progress and its rejected rows.

Revision ID: 2026_12_01_0006
Revises: 2026_11_23_0005
Create Date: 2026-12-01
"""

from alembic import op

from services.claims import importfiles

revision = "2026_12_01_0006"
down_revision = "2026_11_23_0005"
branch_labels = None
depends_on = None

CREATED = (importfiles.jobs, importfiles.parts, importfiles.rejects)


def upgrade() -> None:
    importfiles.metadata.create_all(bind=op.get_bind(), tables=list(CREATED))


def downgrade() -> None:
    importfiles.metadata.drop_all(bind=op.get_bind(), tables=list(reversed(CREATED)))
