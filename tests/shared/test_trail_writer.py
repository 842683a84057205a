"""The access trail's rows are written in groups (issue 20, point 3), and none is lost."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.trail import TrailWriter, access_trail, metadata


def _row(n: int) -> dict[str, object]:
    return {
        "at": dt.datetime.now(dt.UTC), "actor": f"provider:p{n}", "method": "POST",
        "path": f"/v1/x/{n}", "query": "", "status": 201, "duration_ms": 3,
    }  # fmt: skip


def test_rows_waiting_while_a_group_is_written_go_in_one_transaction(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'trail.db'}")
    metadata.create_all(engine)
    writing, release = threading.Event(), threading.Event()

    def engine_of() -> Engine:
        if not writing.is_set():  # the first group waits here while the others queue up
            writing.set()
            assert release.wait(10)
        return engine

    writer = TrailWriter(engine_of)
    first = writer.submit(_row(0))
    assert writing.wait(10)
    rest = [writer.submit(_row(n)) for n in range(1, 100)]
    release.set()
    for done in [first, *rest]:
        done.result(timeout=10)
    writer.close()
    with engine.connect() as connection:
        paths = connection.execute(sa.select(access_trail.c.path).order_by(access_trail.c.id))
        assert [p for (p,) in paths] == [f"/v1/x/{n}" for n in range(100)]
    assert (writer.groups, writer.rows) == (2, 100)


def test_a_failed_write_is_logged_and_the_requests_go_on(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'none.db'}")  # no trail table
    writer = TrailWriter(lambda: engine)
    writer.submit(_row(1)).result(timeout=10)  # done, though nothing could be written
    assert (writer.groups, writer.rows) == (0, 0)
    writer.close()


def test_closing_writes_what_is_waiting(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'trail.db'}")
    metadata.create_all(engine)
    writer = TrailWriter(lambda: engine)
    pending = [writer.submit(_row(n)) for n in range(20)]
    writer.close()
    assert all(done.done() for done in pending)
    with engine.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(access_trail)).scalar() == 20
        )
