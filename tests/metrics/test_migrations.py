"""The metrics migrations: each revision leaves the read models as the code expects them, and
the ones that change what a row means bring the rows they keep up to date."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from services.claims.application import ClaimsApplication
from services.metrics.application import funnel
from services.metrics.facts import EVENTS
from services.metrics.readmodels import tables
from services.metrics.readmodels.performance import PerformanceProjector
from shared.sqlviews import SqlSink, create_engine, feed_positions
from shared.storeurls import sqlalchemy_url
from tests.claims.helpers import OTHER_PROVIDER, PROVIDER, story_events

MIGRATIONS = Path(__file__).parents[2] / "services" / "metrics" / "migrations"


@contextmanager
def engine_at(url: str, revision: str) -> Iterator[Engine]:
    engine = create_engine(sqlalchemy_url(url))
    try:
        upgrade(engine, revision)
        yield engine
    finally:
        engine.dispose()


def counts(engine: Engine) -> dict[str, tuple[int, int]]:
    report = funnel(engine, "ips-employment")
    return {stage: (c.participants, c.events) for stage, c in report.overall.items()}


def test_the_tables_at_head_are_the_read_models_tables(urls: dict[str, str]) -> None:
    with engine_at(urls["metrics"], "head") as engine:
        inspector = sa.inspect(engine)
        for table in tables.metadata.sorted_tables:
            found = {c["name"]: c["nullable"] for c in inspector.get_columns(table.name)}
            assert found == {c.name: c.nullable for c in table.columns}, table.name


def test_the_migration_that_retires_the_funnel_tables_fills_the_events_measure(
    claims: ClaimsApplication, urls: dict[str, str]
) -> None:
    """A cube written before the events measure existed gains it on upgrade, with no replay."""
    claims.intake.record_events("ips-employment", PROVIDER, story_events("a", "a"), "provider:x")
    claims.intake.record_events(
        "ips-employment", OTHER_PROVIDER, story_events("b", "b")[:2], "provider:y"
    )
    with engine_at(urls["metrics"], "2026_11_23_0004") as engine:
        projector = PerformanceProjector(snapshots=False)  # the schema has no snapshots yet
        SqlSink(engine, "claims", projector).apply(claims.read_feed(0, 1000))
        with engine.begin() as connection:  # as the projector wrote them before this revision
            connection.execute(sa.delete(tables.cube).where(tables.cube.c.measure == EVENTS))
            for stream, text in connection.execute(
                sa.select(
                    tables.participant_cube.c.stream_id, tables.participant_cube.c.contributions
                )
            ).all():
                kept = [row for row in json.loads(text) if row[0] != EVENTS]
                connection.execute(
                    sa.update(tables.participant_cube)
                    .where(tables.participant_cube.c.stream_id == stream)
                    .values(contributions=json.dumps(kept))
                )
        assert sa.inspect(engine).has_table("metrics_funnel_counts")
        assert counts(engine)["referral"] == (2, 0)  # (read at head: the events not yet there)
        upgrade(engine, "head")
        assert not sa.inspect(engine).has_table("metrics_funnel_counts")
        assert counts(engine) == {
            "referral": (2, 2),
            "enrollment": (2, 2),
            "job_start": (1, 1),
            "job_sustained": (1, 1),
        }
        with engine.connect() as connection:
            shares = connection.execute(sa.select(tables.participant_cube.c.contributions))
            assert all(any(row[0] == EVENTS for row in json.loads(s)) for (s,) in shares)


def upgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["version_table"] = "alembic_version_metrics"
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_the_money_migration_forgets_the_ledger_position_so_money_is_read_again(
    urls: dict[str, str],
) -> None:
    """Rows kept before money had a ledger month cannot say it: the upgrade empties them and
    the ledger feed's position, so the follower reads the ledger feed again from the start."""
    at = dt.datetime(2026, 3, 31, tzinfo=dt.UTC)
    with engine_at(urls["metrics"], "2026_11_30_0006") as engine:
        with engine.begin() as connection:
            connection.execute(sa.insert(feed_positions), [
                {"upstream": "ledger", "position": 4}, {"upstream": "claims", "position": 9}
            ])  # fmt: skip
            connection.execute(sa.text("INSERT INTO mx_books VALUES ('book-1', 'c')"))
            connection.execute(
                sa.text(
                    "INSERT INTO mx_money (position, contract_id, provider_id, kind, "
                    "outcome_minor, paid_minor, capped_minor, recorded_at) "
                    "VALUES (2, 'c', 'alpha', 'accrual', 100, 0, 0, :at)"
                ).bindparams(at=at)
            )
        upgrade(engine, "head")
        with engine.connect() as connection:
            assert (
                connection.execute(sa.select(sa.func.count()).select_from(tables.money)).scalar()
                == 0
            )
            assert (
                connection.execute(sa.select(sa.func.count()).select_from(tables.books)).scalar()
                == 0
            )
            positions = dict(connection.execute(sa.select(feed_positions)).all())
        assert positions == {"claims": 9}
