"""Issue 21, point 8 (back up and restore): the runbook's `pg_dump` / `pg_restore` round trip
(docs/operations.md) gives back stores whose feed digests, read models and migrations are the
originals', and a service starts on them without migrating."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.claims.api import MIGRATIONS as CLAIMS_MIGRATIONS
from services.ledger.application import LedgerApplication
from shared.feed.digest import digest_upto
from shared.sqlviews import create_engine, prepare_store
from shared.storeurls import sqlalchemy_url
from tests.claims.helpers import claims_app
from tests.stores import migrated_engine, postgres_databases, require_postgres
from tests.test_digest import LEDGER_NOW, ledger_digest, same_story


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (the PostgreSQL client tools)")
    return found


def test_a_dump_restored_into_empty_databases_has_the_same_digests(tmp_path: Path) -> None:
    require_postgres()
    dump, restore = _tool("pg_dump"), _tool("pg_restore")
    with (
        postgres_databases(("claims", "ledger")) as live,
        postgres_databases(("claims", "ledger")) as restored,
    ):
        with migrated_engine(live["claims"], "claims") as engine:
            claims = same_story(live["claims"])
            try:
                claims_digest = digest_upto(claims.read_feed, claims.head_position())
                ledger = ledger_digest(claims, live["ledger"])
            finally:
                claims.close()
            with engine.connect() as connection:
                tables = sorted(sa.inspect(connection).get_table_names())
        for name in ("claims", "ledger"):
            archive = tmp_path / f"{name}.dump"
            subprocess.run(  # the runbook's commands, as written there
                [dump, "--format=custom", f"--file={archive}", f"--dbname={live[name]}"],
                check=True,
            )
            subprocess.run(
                [restore, "--no-owner", "--exit-on-error", f"--dbname={restored[name]}",
                 str(archive)],
                check=True,
            )  # fmt: skip

        back = claims_app(restored["claims"])
        try:
            assert digest_upto(back.read_feed, back.head_position()) == claims_digest
        finally:
            back.close()
        ledger_back = LedgerApplication(restored["ledger"], clock=lambda: LEDGER_NOW)
        try:
            found = digest_upto(ledger_back.read_feed, ledger_back.head_position())
            assert found.digest == ledger
        finally:
            ledger_back.close()
        engine = create_engine(sqlalchemy_url(restored["claims"]))
        try:
            with engine.connect() as connection:
                assert sorted(sa.inspect(connection).get_table_names()) == tables
            # at the code's head: a service starts on it without --migrate
            prepare_store(engine, CLAIMS_MIGRATIONS, "alembic_version_claims", "claims", False)
        finally:
            engine.dispose()
