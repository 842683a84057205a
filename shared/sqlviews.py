"""SQL read models: engines, Alembic migrations, and the sink that applies a feed page.

Read models are SQLAlchemy Core tables created by each service's Alembic migrations. A
:class:`SqlSink` writes a page's rows and the page's last position in one transaction, and the
position only moves forward from where the page was read: a second follower that read the same
page fails its commit instead of applying it twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from shared.feed.envelope import FeedEntry
from shared.feed.lease import lease_key
from shared.pgstore import deadline_connection, query_timeout_s, unbounded_statements
from shared.settings import PoolSizing, attempt_timeout_s, connect_options

metadata_positions = sa.MetaData()
feed_positions = sa.Table(
    "feed_positions",
    metadata_positions,
    sa.Column("upstream", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)


class ConcurrentFollowerError(RuntimeError):
    """Another follower applied this page first; this one's transaction was rolled back."""


def create_engine(url: str, pool: PoolSizing | None = None) -> Engine:
    """An engine for a service's read models; on PostgreSQL its pool is sized and bounded in
    time by ``pool`` (``OUTCOMES_DB_*``; see ``shared/settings.py`` for the budget) and every
    statement's answer by ``OUTCOMES_DB_QUERY_TIMEOUT_S`` (:mod:`shared.pgstore`)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    sizing = pool or PoolSizing()
    engine = sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=sizing.size,
        max_overflow=sizing.max_overflow,
        pool_timeout=sizing.timeout_s,
        connect_args={
            "connect_timeout": attempt_timeout_s(sizing.timeout_s),
            **connect_options(sizing.timeout_s),
        },
    )
    connection_class = deadline_connection(query_timeout_s())

    @sa.event.listens_for(engine, "do_connect")
    def _with_deadline(_dialect, _record, cargs, cparams):  # type: ignore[no-untyped-def]
        return connection_class.connect(*cargs, **cparams)

    return engine


def _config(script_location: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return config


def migrate(
    engine: Engine, script_location: Path, version_table: str, revision: str = "head"
) -> None:
    """Bring a service's read-model tables to the newest Alembic revision (or ``revision``).

    On PostgreSQL, migrations of one store are serialised by a transaction-scoped advisory lock:
    the worker processes of a service started with ``--migrate`` (``--workers 2``), or replicas
    started together, would otherwise all create the version table at once and all but one fail
    to start. The one that waited then finds the store migrated and does nothing."""
    config = _config(script_location)
    config.attributes["version_table"] = version_table
    with unbounded_statements(), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            key = lease_key(f"migrate {version_table}")
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def migration_head(script_location: Path) -> str | None:
    """The newest revision of a service's read-model migrations."""
    return ScriptDirectory.from_config(_config(script_location)).get_current_head()


def migration_base(script_location: Path) -> str:
    """The oldest revision of a service's read-model migrations."""
    base = ScriptDirectory.from_config(_config(script_location)).get_base()
    assert isinstance(base, str), "one base revision a service"
    return base


def store_revision(engine: Engine, version_table: str) -> str | None:
    """The revision a store's read models are at (``None``: never migrated)."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(version_table):
            return None
        value = connection.execute(
            sa.select(sa.table(version_table, sa.column("version_num")).c.version_num)
        ).scalar()
    return None if value is None else str(value)


class StoreNotMigrated(RuntimeError):
    """A service started on a store whose read models are not at the revision its code needs."""


def prepare_store(
    engine: Engine, script_location: Path, version_table: str, service: str, migrate_now: bool
) -> None:
    """At start: migrate the store (``--migrate``), or check that it is at this code's head and
    refuse to start, naming the command, when it is not (migrations are a step of their own)."""
    if migrate_now:
        migrate(engine, script_location, version_table)
        return
    script = ScriptDirectory.from_config(_config(script_location))
    head, found = script.get_current_head(), store_revision(engine, version_table)
    if found == head:
        return
    if found is not None and found not in {r.revision for r in script.walk_revisions()}:
        raise StoreNotMigrated(
            f"the {service} store is at {found}, which this code does not know (a newer "
            "version migrated it): run that version"
        )
    state = "has never been migrated" if found is None else f"is at {found}, behind {head}"
    raise StoreNotMigrated(
        f"the {service} store {state}: run `outcomes migrate {service}` first, or start the "
        "service with --migrate"
    )


Handler = Callable[[Connection, FeedEntry], None]


class PageHandler(Protocol):
    """A handler that can also take a whole page at once, with the same effects as taking its
    entries one by one (so it can batch its reads and writes)."""

    def __call__(self, connection: Connection, entry: FeedEntry) -> None: ...

    def page(self, connection: Connection, entries: list[FeedEntry]) -> None: ...


class SqlSink:
    def __init__(self, engine: Engine, upstream: str, handle: Handler | PageHandler) -> None:
        self._engine = engine
        self._upstream = upstream
        self._handle = handle

    def position(self) -> int:
        with self._engine.connect() as connection:
            return feed_position(connection, self._upstream)

    def apply(self, entries: list[FeedEntry]) -> None:
        if not entries:
            return
        with self._engine.begin() as connection:
            self._advance(connection, entries[0].position, entries[-1].position)
            page = getattr(self._handle, "page", None)
            if page is not None:
                page(connection, entries)
                return
            for entry in entries:
                self._handle(connection, entry)

    def _advance(self, connection: Connection, first: int, last: int) -> None:
        updated = connection.execute(
            sa.update(feed_positions)
            .where(feed_positions.c.upstream == self._upstream)
            .where(feed_positions.c.position < first)
            .values(position=last)
        ).rowcount
        if updated == 1:
            return
        exists = connection.execute(
            sa.select(feed_positions.c.position).where(feed_positions.c.upstream == self._upstream)
        ).scalar_one_or_none()
        if exists is not None:
            raise ConcurrentFollowerError(
                f"{self._upstream}: position is {exists}, page starts at {first}"
            )
        connection.execute(sa.insert(feed_positions).values(upstream=self._upstream, position=last))


def feed_position(connection: Connection, upstream: str) -> int:
    """The position a follower of ``upstream`` has applied up to (0 before its first page)."""
    found = connection.execute(
        sa.select(feed_positions.c.position).where(feed_positions.c.upstream == upstream)
    ).scalar_one_or_none()
    return int(found or 0)


def add_counts(
    connection: Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    counters: Iterable[str],
) -> None:
    """Add each row's counters to the row with its primary key, inserting it if absent, in
    one statement for all rows (``INSERT … ON CONFLICT DO UPDATE``, PostgreSQL and SQLite).
    The rows' keys must be distinct."""
    if not rows:
        return
    insert: Any = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key.columns],
        set_={name: table.c[name] + statement.excluded[name] for name in counters},
    )
    connection.execute(statement, list(rows))


def insert_rows(connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (each with the same keys). On PostgreSQL with ``COPY``, in the connection's
    transaction: psycopg's ``executemany`` sends a statement a row and spends about 60 µs of
    Python on each (a third of a metrics rebuild, in a profile), where ``COPY`` writes rows
    in its C extension."""
    if not rows:
        return
    if connection.dialect.name != "postgresql" or len(rows) == 1:
        connection.execute(sa.insert(table), list(rows))
        return
    names = list(rows[0])
    assert all(name in table.c for name in names)
    driver: Any = connection.connection.driver_connection
    columns = ", ".join(f'"{name}"' for name in names)
    with (
        driver.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row([row[name] for name in names])


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; every time this project stores is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
