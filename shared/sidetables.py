"""Tables of a service's own beside its event store, written in the transaction that records
its events: for what a unique constraint guards better than an aggregate does.

An intake receipt (has this provider's event id been recorded, and what was answered) used
to be an aggregate of its own, a stored event per participant event. As a row of a table
whose primary key is the receipt's id, it holds or fails with the events it describes, and a
second request recording the same event id at the same moment is refused by the key (an
``IntegrityError``, which :func:`shared.eventstore.retrying` retries, and the retry reads
the row).

Rows are handed to :meth:`shared.eventstore.OutcomesApplication.save` as
``side_rows=[SideRows(...)]``; the services' recorders (:class:`shared.pgstore.
BoundedProcessRecorder`, :class:`SideRowsSQLiteRecorder`) insert them with the events.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder

from shared.storeurls import is_postgres
from shared.streams import BULK_CHUNK, as_uuid, row_values


@dataclass(frozen=True)
class SideRows:
    """Rows for one side table; the first column is its primary key, a UUID."""

    table: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[Any, ...]]


@dataclass(frozen=True)
class Column:
    name: str
    postgres: str  # its type on each store
    sqlite: str


class SideTable:
    """One side table of an event store: created if missing, read by primary key."""

    def __init__(self, recorder: Any, database_url: str, name: str, columns: Sequence[Column]):
        assert name.isidentifier() and all(c.name.isidentifier() for c in columns)
        self._recorder = recorder
        self._postgres = is_postgres(database_url)
        self.name = name
        self.columns = tuple(c.name for c in columns)
        key, *rest = columns
        if self._postgres:
            self._qualified = f'"{recorder.datastore.schema}"."{name}"'
            types = [f"{key.name} {key.postgres} PRIMARY KEY"]
            types += [f"{c.name} {c.postgres}" for c in rest]
        else:
            self._qualified = name
            types = [f"{key.name} {key.sqlite} PRIMARY KEY"]
            types += [f"{c.name} {c.sqlite}" for c in rest]
        with recorder.datastore.transaction(commit=True) as cursor:
            if self._postgres:  # replicas starting together: one creates, the others wait
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._qualified,))
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {self._qualified} ({', '.join(types)})")

    def rows(self, rows: Sequence[tuple[Any, ...]]) -> SideRows:
        """Rows to hand to ``save`` (keys as UUIDs; stored as the store keeps ids)."""
        if not self._postgres:
            rows = [(row[0].hex, *row[1:]) for row in rows]
        return SideRows(self.name, self.columns, rows)

    def find(self, keys: Collection[UUID]) -> dict[UUID, tuple[Any, ...]]:
        """The rows of these keys that exist, by key: one query per 500 keys."""
        found: dict[UUID, tuple[Any, ...]] = {}
        wanted = list(dict.fromkeys(keys))
        names = ", ".join(self.columns)
        key = self.columns[0]
        for start in range(0, len(wanted), BULK_CHUNK):
            chunk = wanted[start : start + BULK_CHUNK]
            if self._postgres:
                statement = (
                    f"SELECT {names} FROM unnest(%s::uuid[]) AS t(k) "  # noqa: S608
                    f"JOIN {self._qualified} ON {key} = t.k"
                )
                params: tuple[Any, ...] = (chunk,)
            else:
                marks = ",".join("?" * len(chunk))
                statement = f"SELECT {names} FROM {self.name} WHERE {key} IN ({marks})"  # noqa: S608
                params = tuple(k.hex for k in chunk)
            with self._recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, params)
                for row in cursor.fetchall():
                    values = row_values(row)
                    found[as_uuid(values[0])] = values
        return found


def insert_statement(side: SideRows, table: str, mark: str) -> str:
    """The INSERT of one side table's rows, its parameters marked ``%s`` or ``?``."""
    marks = ", ".join(mark for _ in side.columns)
    return f"INSERT INTO {table} ({', '.join(side.columns)}) VALUES ({marks})"  # noqa: S608


class SideRowsSQLiteRecorder(SQLiteProcessRecorder):
    """The library's SQLite recorder, inserting side rows in the events' transaction."""

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        for side in kwargs.get("side_rows", ()):
            c.executemany(insert_statement(side, side.table, "?"), side.rows)
        return super()._insert_events(c, stored_events, **kwargs)
