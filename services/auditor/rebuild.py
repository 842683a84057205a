"""``outcomes audit rebuild``: replay feeds from position 0 into fresh tables (a temporary
SQLite store), then compare them row for row with the live read models. The live tables are
only read.

- ``metrics``: the claims and ledger feeds into fresh metrics read models.
- ``ledger``: the ledger's own feed into a fresh transaction index (the ledger's books are its
  event store, which the digest covers; remittances come from payers, not from the claims feed,
  so the books cannot be rebuilt from it).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.feed.follower import HttpFeedSource
from shared.feed.replay import replay
from shared.progress import Progress
from shared.sqlviews import Handler, aware, create_engine, migrate

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Replay:
    source: HttpFeedSource
    upstream: str
    handler: Handler


@dataclass(frozen=True)
class TableDifference:
    table: str
    only_live: int
    only_rebuilt: int
    examples: list[str]


def _normal(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return aware(value).isoformat()
    return str(value)


def rows_of(engine: Engine, table: sa.Table) -> list[tuple[str, ...]]:
    with engine.connect() as connection:
        return sorted(
            tuple(_normal(v) for v in row) for row in connection.execute(sa.select(table))
        )


def compare(live: Engine, rebuilt: Engine, tables: Iterable[sa.Table]) -> list[TableDifference]:
    found = []
    for table in tables:
        mine, theirs = set(rows_of(live, table)), set(rows_of(rebuilt, table))
        if mine != theirs:
            examples = [f"live only: {r}" for r in sorted(mine - theirs)[:MAX_EXAMPLES]]
            examples += [f"rebuilt only: {r}" for r in sorted(theirs - mine)[:MAX_EXAMPLES]]
            found.append(
                TableDifference(table.name, len(mine - theirs), len(theirs - mine), examples)
            )
    return found


def rebuild_and_compare(
    live: Engine,
    migrations: Path,
    version_table: str,
    replays: list[Replay],
    tables: Iterable[sa.Table],
) -> list[TableDifference]:
    with tempfile.TemporaryDirectory() as folder:
        fresh = create_engine(f"sqlite:///{Path(folder) / 'rebuilt.sqlite'}")
        try:
            migrate(fresh, migrations, version_table)
            for item in replays:
                replay(fresh, item.source, item.upstream, item.handler, Progress(item.upstream))
            return compare(live, fresh, tables)
        finally:
            fresh.dispose()
