"""Issue 21, point 9: the PostgreSQL fixture drops every database it created, even when
creating a later one fails halfway (a leak here fills PostgreSQL over a long test run)."""

from __future__ import annotations

import psycopg
import pytest

from tests.stores import postgres_admin_url, postgres_databases, require_postgres


def test_a_failed_creation_leaves_no_database_behind() -> None:
    require_postgres()

    def ours() -> set[str]:
        with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
            rows = connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'outcomes_test_%_first'"
            ).fetchall()
        return {row[0] for row in rows}

    before = ours()
    with pytest.raises(psycopg.Error), postgres_databases(("first", "nul\x00")):
        pass  # the second CREATE DATABASE fails (a NUL in its name): the first was made
    assert ours() == before
