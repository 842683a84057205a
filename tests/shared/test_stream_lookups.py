"""Many streams at once: ``load_many`` and ``existing`` answer as one lookup per stream would,
in chunks, on both stores; on PostgreSQL each id is looked up in the primary key by itself, so
a store without statistics cannot be planned into a scan of the whole table."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from shared.eventstore import OutcomesApplication
from shared.feed.envelope import EventCatalogue
from shared.sqlviews import create_engine
from shared.storeurls import sqlalchemy_url
from shared.streams import BULK_CHUNK, postgres_lookup
from tests.stores import postgres_databases


class Tally(Aggregate):
    @event("Opened")
    def __init__(self, name: str) -> None:
        self.name = name
        self.counted: list[int] = []

    @event("Counted")
    def count(self, value: int) -> None:
        self.counted.append(value)


class Tallies(OutcomesApplication):
    name = "tallies"
    catalogue = EventCatalogue({})


def test_many_streams_load_and_exist_as_one_at_a_time_would(urls: dict[str, str]) -> None:
    app = Tallies(urls["claims"])
    try:
        saved = []
        for index in range(5):
            tally = Tally(f"t{index}")
            for value in range(index * 3):  # streams of 1 to 13 events
                tally.count(value)
            saved.append(tally)
        app.save(*saved)
        missing = [uuid.uuid4() for _ in range(BULK_CHUNK + 10)]
        # the saved ids after a chunk and more of ids with no stream
        wanted = [*missing, *(t.id for t in saved)]

        loaded = app.load_many(wanted, Tally)

        assert set(loaded) == {t.id for t in saved}
        for tally in saved:
            alone: Any = app.repository.get(tally.id)
            assert (loaded[tally.id].version, loaded[tally.id].counted) == (
                alone.version,
                alone.counted,
            )
        assert app.existing(wanted) == {t.id for t in saved}
        assert app.existing(missing) == set()
        assert app.load_many([], Tally) == {} and app.existing([]) == set()
    finally:
        app.close()


def test_postgres_sessions_compile_no_plans() -> None:
    """Without statistics PostgreSQL overestimates the lookups above and would compile them
    (JIT) first, 150 ms for a 3 ms query: the store's and the read models' sessions turn it
    off."""
    with postgres_databases(("claims",)) as urls:
        app = Tallies(urls["claims"])
        engine = create_engine(sqlalchemy_url(urls["claims"]))
        try:
            with app.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
                cursor.execute("SHOW jit")
                assert dict(cursor.fetchone()) == {"jit": "off"}
            with engine.connect() as connection:
                assert connection.exec_driver_sql("SHOW jit").scalar() == "off"
        finally:
            app.close()
            engine.dispose()


def test_the_lookups_use_the_primary_key_on_a_store_without_statistics() -> None:
    """A store never analysed (autovacuum off, or not run yet): the old form of the question,
    ``originator_id = ANY(ids)``, is planned as a scan of the whole table (the control), the
    lookups as probes of the primary key, whatever the table holds."""
    with postgres_databases(("claims",)) as urls:
        app = Tallies(urls["claims"])
        try:
            recorder: Any = app.recorder
            events = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
            ids = [uuid.uuid4() for _ in range(BULK_CHUNK)]
            with recorder.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    f"INSERT INTO {events} (originator_id, originator_version, topic, state) "  # noqa: S608
                    "SELECT gen_random_uuid(), 1, 'bench', '\\x00'::bytea "
                    "FROM generate_series(1, 50000)"
                )

            def scans(statement: str) -> list[str]:
                with recorder.datastore.transaction(commit=False) as cursor:
                    cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", (ids,))
                    plan = next(iter(dict(cursor.fetchone()).values()))
                return _node_types(plan[0]["Plan"])

            old = f"SELECT DISTINCT originator_id FROM {events} WHERE originator_id = ANY(%s)"  # noqa: S608
            assert any("Seq Scan" in node for node in scans(old))  # the hazard is there
            for columns in (None, "originator_id, originator_version, topic, state"):
                found = scans(postgres_lookup(events, columns))
                assert not any("Seq Scan" in node for node in found), found
                assert any("Index" in node for node in found), found
        finally:
            app.close()


def _node_types(node: dict[str, Any]) -> list[str]:
    return [node["Node Type"], *(t for child in node.get("Plans", []) for t in _node_types(child))]
