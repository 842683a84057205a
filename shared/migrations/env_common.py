"""What every service's Alembic ``env.py`` does: migrate on the connection it is handed."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context


def run_migrations(target_metadata: sa.MetaData | None = None) -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations through shared.sqlviews.migrate(), which passes a connection"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=config.attributes.get("version_table", "alembic_version"),
    )
    with context.begin_transaction():
        context.run_migrations()
