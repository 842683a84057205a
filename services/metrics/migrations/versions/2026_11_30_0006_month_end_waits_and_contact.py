"""Waits and contact at each month's end: a participant's share of the cube now says in which
months its wait was still open and which contact was its last at each month's end (and since
when it had never been contacted). The upgrade recomputes every participant's share from its
stored live events, in chunks; the downgrade has nothing to undo (the older code reads the new
keys wrongly, so after a downgrade run ``outcomes metrics rebuild``).

Revision ID: 2026_11_30_0006
Revises: 2026_11_30_0005
Create Date: 2026-11-30
"""

from alembic import op

from services.metrics.readmodels.performance import PerformanceProjector

revision = "2026_11_30_0006"
down_revision = "2026_11_30_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    PerformanceProjector().recompute_all(op.get_bind())


def downgrade() -> None:
    pass
