"""``shared.sqlviews.insert_rows`` on both stores: the rows ``COPY`` writes on PostgreSQL read
back as an ``INSERT`` of each would have written them, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.sqlviews import create_engine, insert_rows
from shared.storeurls import sqlalchemy_url
from tests.stores import store_urls

METADATA = sa.MetaData()
TABLE = sa.Table(
    "probe_rows",
    METADATA,
    sa.Column("key", sa.String(36), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=True),
)
AT = dt.datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=dt.UTC)
ROWS = [
    {"key": "a", "count": 2**40, "day": dt.date(2026, 2, 28), "note": "tab\tand\nline", "at": AT},
    {"key": "b", "count": -1, "day": dt.date(1990, 1, 1), "note": None, "at": None},
    {"key": "c", "count": 0, "day": dt.date(2026, 12, 1), "note": "\\N é ✓", "at": AT},
]


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_rows_read_back_as_written_and_roll_back_with_their_transaction(
    store: str, tmp_path: Path
) -> None:
    with store_urls(store, tmp_path) as urls:
        engine = create_engine(sqlalchemy_url(urls["metrics"]))
        try:
            METADATA.create_all(engine)
            with pytest.raises(RuntimeError), engine.begin() as connection:
                insert_rows(connection, TABLE, ROWS)
                raise RuntimeError("the transaction fails after the rows")
            with engine.begin() as connection:
                assert (
                    connection.execute(sa.select(sa.func.count()).select_from(TABLE)).scalar() == 0
                )
                insert_rows(connection, TABLE, ROWS)
                insert_rows(connection, TABLE, [])
            with engine.connect() as connection:
                found = [
                    dict(row._mapping)
                    for row in connection.execute(sa.select(TABLE).order_by(TABLE.c.key))
                ]
            for row in found:  # SQLite hands back naive datetimes
                if row["at"] is not None and row["at"].tzinfo is None:
                    row["at"] = row["at"].replace(tzinfo=dt.UTC)
            assert found == ROWS
        finally:
            engine.dispose()
