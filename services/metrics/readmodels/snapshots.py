"""Snapshots of the report cube as known at past moments, for fast "as known at" reports.

The cube as known at a moment *t* is the sum of every participant's contributions from its
events live at *t* (recorded by *t* and not yet superseded), under the rule book known at *t*.
Rebuilding that from every event costs time in proportion to the contract's history. Instead,
at every hour start (UTC), once the claims feed has moved ``MARGIN`` past it, the projector
stores a **boundary** of each contract:

* at an hour start, the **hour change**: the cube as known then less the cube as known an hour
  before, from only the participants with an event recorded or superseded in that hour;
* at a day start, the **day change** instead: the day's hour changes summed in SQL, plus the
  last hour's change;
* at a month start, a **full** copy: the month's first full copy plus the day and hour changes
  since, summed in SQL. The first boundary of a contract, the first after an amendment (whose
  new plan changes every participant's share), and the first day start after a full copy that
  was not at a day start are full copies too (the first of a version is rebuilt from events).

An "as known at *t*" report reads the latest full copy at or before *t* under the rule-book
version known at *t*, the day changes after it, the hour changes after the last of those (at
most a month of days and a day of hours, grouped in SQL), and, in memory, the change of the
participants touched since the last boundary (at most an hour's, while the projector keeps up).
Hour changes are kept for ``HOURS_KEPT`` (35 days, or the setting
``METRICS_SNAPSHOT_HOURS_KEPT_DAYS``): a moment further back reads the day
changes and recomputes the participants changed since its day start instead (a day's, so
slower, never different). Every step uses :func:`changes`, the exact difference between two
moments' cubes, so the answer equals the full rebuild (tested against it at many moments).
With no usable full copy (before the contract's first hour start, or between an amendment and
the next hour start) the report falls back to the full rebuild.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services.metrics.facts import (
    CubeKey,
    ReportingPlan,
)
from services.metrics.readmodels.cube import (
    DIMENSIONS,
    CubeReader,
    Filters,
    MemoryCube,
    SqlCube,
    Totals,
    changes,
    counts_known_at,
)
from services.metrics.readmodels.tables import rulebooks, snapshot_cube, snapshots
from shared.sqlviews import add_counts, aware

# A feed entry is committed within this of the time it records (requests and batches are
# bounded far below it), so once the feed shows an entry recorded MARGIN after an hour start,
# every entry recorded before that start has been applied.
MARGIN = dt.timedelta(hours=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
HOURS_KEPT = dt.timedelta(days=35)  # hour changes older than this are dropped at day starts
MAX_BOUNDARIES_PER_PAGE = 168  # a week of hours: a backlog (after an upgrade, in a rebuild) is
# spread over pages
KEY_COLUMNS = ("measure", *DIMENSIONS, "k1", "k2")
FULL = "full"  # the whole cube
DAY_CHANGE = "day"  # the change since the day start before (the sum of its hours)
HOUR_CHANGE = "hour"  # the change since the hour start before
PlanOf = Callable[[Connection, str, int], ReportingPlan]  # (contract, version) -> its plan


@dataclass(frozen=True)
class Snapshot:
    """A stored boundary: the whole cube (``FULL``) or its change over a day or an hour."""

    contract_id: str
    known_at: dt.datetime
    rulebook_version: int
    kind: str = FULL


def version_known_at(connection: Connection, contract_id: str, at: dt.datetime) -> int | None:
    """The latest rule-book version of the contract recorded by ``at``."""
    found = connection.execute(
        sa.select(sa.func.max(rulebooks.c.version))
        .where(rulebooks.c.contract_id == contract_id)
        .where(rulebooks.c.recorded_at <= at)
    ).scalar()
    return int(found) if found is not None else None


def _boundaries(
    connection: Connection, contract_id: str, *where: sa.ColumnElement[bool]
) -> list[Snapshot]:
    rows = connection.execute(
        sa.select(snapshots.c.known_at, snapshots.c.rulebook_version, snapshots.c.kind)
        .where(snapshots.c.contract_id == contract_id, *where)
        .order_by(snapshots.c.known_at)
    )
    return [Snapshot(contract_id, aware(row[0]), row[1], row[2]) for row in rows]


def latest_full(
    connection: Connection, contract_id: str, at: dt.datetime, version: int
) -> Snapshot | None:
    """The latest full copy taken at or before ``at`` under that rule-book version (read back
    along the primary key from ``at``: at most a month of boundaries)."""
    found = connection.execute(
        sa.select(snapshots.c.known_at, snapshots.c.rulebook_version)
        .where(snapshots.c.contract_id == contract_id)
        .where(snapshots.c.known_at <= at)
        .where(snapshots.c.kind == FULL)
        .order_by(snapshots.c.known_at.desc())
        .limit(1)
    ).first()
    if found is None or found[1] != version:  # a later version's full copy comes after
        return None
    return Snapshot(contract_id, aware(found[0]), version)


def _previous(connection: Connection, contract_id: str, at: dt.datetime) -> Snapshot | None:
    """The contract's latest boundary before ``at``."""
    found = connection.execute(
        sa.select(snapshots.c.known_at, snapshots.c.rulebook_version, snapshots.c.kind)
        .where(snapshots.c.contract_id == contract_id)
        .where(snapshots.c.known_at < at)
        .order_by(snapshots.c.known_at.desc())
        .limit(1)
    ).first()
    return Snapshot(contract_id, aware(found[0]), found[1], found[2]) if found else None


class SnapshotCube:
    """Stored boundaries' rows (summed in SQL) plus an in-memory change since the last one."""

    def __init__(
        self, connection: Connection, stored: list[Snapshot], delta: Counter[CubeKey]
    ) -> None:
        self.boundaries = len(stored)
        self._stored = SqlCube(
            connection,
            stored[0].contract_id,
            table=snapshot_cube,
            where=(snapshot_cube.c.known_at.in_([b.known_at for b in stored]),),
        )
        self._delta = MemoryCube(delta)

    def totals(self, filters: Filters, measure: str, by: tuple[str, ...] = ()) -> Totals:
        found = Counter(self._stored.totals(filters, measure, by))
        found.update(self._delta.totals(filters, measure, by))
        return {key: n for key, n in found.items() if n}


def reading_set(full: Snapshot, chain: list[Snapshot]) -> list[Snapshot]:
    """The boundaries whose rows sum to the cube as known at the last of ``chain`` (the
    boundaries after ``full``, in order): the full copy, the day changes after it, and the
    hour changes after the last of those."""
    days = [b for b in chain if b.kind == DAY_CHANGE]
    since = days[-1].known_at if days else full.known_at
    return [full, *days, *(b for b in chain if b.kind == HOUR_CHANGE and b.known_at > since)]


def _chain(
    connection: Connection, full: Snapshot, until: dt.datetime, version: int
) -> list[Snapshot]:
    after = (snapshots.c.known_at > full.known_at, snapshots.c.known_at <= until)
    chain = _boundaries(connection, full.contract_id, *after)
    assert all(b.kind != FULL and b.rulebook_version == version for b in chain), chain
    return chain


def cube_known_at(
    connection: Connection,
    plan: ReportingPlan,
    version: int,
    contract_id: str,
    known_at: dt.datetime,
) -> CubeReader:
    """The cube as known at ``known_at``: the latest full copy under the version known then,
    the day and hour changes stored after it, and the participants changed since the last."""
    full = latest_full(connection, contract_id, known_at, version)
    if full is None:
        return MemoryCube(counts_known_at(connection, plan, contract_id, known_at))
    chain = _chain(connection, full, known_at, version)
    since = chain[-1].known_at if chain else full.known_at
    stored = reading_set(full, chain)
    return SnapshotCube(connection, stored, changes(connection, plan, contract_id, since, known_at))


def take_boundary(
    connection: Connection,
    plan_of: PlanOf,
    contract_id: str,
    at: dt.datetime,
    hours_kept: dt.timedelta | None = None,
) -> Snapshot | None:
    """Store the contract's boundary at the hour start ``at`` (nothing if the contract was not
    known then or the boundary exists): a full copy at a month start, the first of a version,
    and the first day start after a full copy that was not at a day start; else the change
    over the day (at a day start, summed from the stored hours) or over the hour."""
    version = version_known_at(connection, contract_id, at)
    if version is None or _exists(connection, contract_id, at):
        return None
    plan = plan_of(connection, contract_id, version)
    full = latest_full(connection, contract_id, at, version)
    if full is None:
        snapshot = _insert_header(connection, Snapshot(contract_id, at, version, FULL))
        _add(connection, snapshot, counts_known_at(connection, plan, contract_id, at))
        return snapshot
    previous = _previous(connection, contract_id, at)
    assert previous is not None and previous.rulebook_version == version, previous
    change = changes(connection, plan, contract_id, previous.known_at, at)
    chain = _chain(connection, full, at, version) if at.hour == 0 else []
    if at.hour != 0:
        kind, summed = HOUR_CHANGE, []
    elif at.day != 1 and full.known_at <= at - DAY:  # the day before starts with a boundary
        kind = DAY_CHANGE
        summed = [b for b in chain if b.kind == HOUR_CHANGE and b.known_at > at - DAY]
    else:
        kind, summed = FULL, reading_set(full, chain)
    snapshot = _insert_header(connection, Snapshot(contract_id, at, version, kind))
    if summed:
        _insert_sum(connection, snapshot, summed)
    _add(connection, snapshot, change)
    if at.hour == 0:
        _forget_hours(connection, contract_id, at - (hours_kept or HOURS_KEPT))
    return snapshot


def _forget_hours(connection: Connection, contract_id: str, until: dt.datetime) -> None:
    """Drop the hour changes at or before ``until``: their days' changes hold their sum, and a
    moment within such a day recomputes the participants changed since its day start."""
    old_hours = (
        sa.select(snapshots.c.known_at)
        .where(snapshots.c.contract_id == contract_id)
        .where(snapshots.c.kind == HOUR_CHANGE)
        .where(snapshots.c.known_at <= until)
    )
    connection.execute(
        sa.delete(snapshot_cube)
        .where(snapshot_cube.c.contract_id == contract_id)
        .where(snapshot_cube.c.known_at.in_(old_hours.scalar_subquery()))
    )
    connection.execute(
        sa.delete(snapshots)
        .where(snapshots.c.contract_id == contract_id)
        .where(snapshots.c.kind == HOUR_CHANGE)
        .where(snapshots.c.known_at <= until)
    )


def _exists(connection: Connection, contract_id: str, at: dt.datetime) -> bool:
    found = connection.execute(
        sa.select(snapshots.c.known_at)
        .where(snapshots.c.contract_id == contract_id)
        .where(snapshots.c.known_at == at)
    ).first()
    return found is not None


def _insert_sum(connection: Connection, snapshot: Snapshot, parts: list[Snapshot]) -> None:
    """The snapshot's rows: the sum of the parts' rows, in SQL (keys summing to 0 left out)."""
    stored = [snapshot_cube.c[name] for name in KEY_COLUMNS]
    connection.execute(
        sa.insert(snapshot_cube).from_select(
            ["contract_id", "known_at", *KEY_COLUMNS, "n"],
            sa.select(
                snapshot_cube.c.contract_id,
                sa.literal(snapshot.known_at, snapshot_cube.c.known_at.type),
                *stored,
                sa.func.sum(snapshot_cube.c.n),
            )
            .where(snapshot_cube.c.contract_id == snapshot.contract_id)
            .where(snapshot_cube.c.known_at.in_([part.known_at for part in parts]))
            .group_by(snapshot_cube.c.contract_id, *stored)
            .having(sa.func.sum(snapshot_cube.c.n) != 0),
        )
    )


def _insert_header(connection: Connection, snapshot: Snapshot) -> Snapshot:
    connection.execute(
        sa.insert(snapshots).values(
            contract_id=snapshot.contract_id,
            known_at=snapshot.known_at,
            rulebook_version=snapshot.rulebook_version,
            kind=snapshot.kind,
        )
    )
    return snapshot


def _add(connection: Connection, snapshot: Snapshot, delta: Counter[CubeKey]) -> None:
    rows = [
        {
            "contract_id": snapshot.contract_id,
            "known_at": snapshot.known_at,
            **key._asdict(),
            "n": n,
        }
        for key, n in delta.items()
        if n
    ]
    add_counts(connection, snapshot_cube, rows, ["n"])
    if any(row["n"] < 0 for row in rows):  # keys that summed to nothing go
        connection.execute(
            sa.delete(snapshot_cube)
            .where(snapshot_cube.c.contract_id == snapshot.contract_id)
            .where(snapshot_cube.c.known_at == snapshot.known_at)
            .where(snapshot_cube.c.n == 0)
        )


def hour_start_after(moment: dt.datetime) -> dt.datetime:
    """The first hour start (UTC) strictly after ``moment``."""
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) + HOUR


def due_boundary(connection: Connection, latest_recorded: dt.datetime) -> dt.datetime | None:
    """The next hour start to store, if the feed has moved ``MARGIN`` past it: the hour after
    the latest boundary, or after the first rule book recorded."""
    taken = connection.execute(  # along ix_mx_snapshots_known_at
        sa.select(snapshots.c.known_at).order_by(snapshots.c.known_at.desc()).limit(1)
    ).scalar()
    if taken is None:
        taken = connection.execute(sa.select(sa.func.min(rulebooks.c.recorded_at))).scalar()
        if taken is None:
            return None
    due = hour_start_after(aware(taken))
    return due if due + MARGIN <= latest_recorded else None


def contracts_known_at(connection: Connection, at: dt.datetime) -> Iterable[str]:
    return connection.execute(
        sa.select(rulebooks.c.contract_id)
        .where(rulebooks.c.recorded_at <= at)
        .distinct()
        .order_by(rulebooks.c.contract_id)
    ).scalars()


def take_due_boundaries(
    connection: Connection,
    plan_of: PlanOf,
    latest_recorded: dt.datetime,
    hours_kept: dt.timedelta | None = None,
) -> list[Snapshot]:
    """After a page of the claims feed: store the hour starts the feed has passed (every
    contract known then), at most ``MAX_BOUNDARIES_PER_PAGE`` of them; hour changes are kept
    ``hours_kept`` (default ``HOURS_KEPT``)."""
    taken: list[Snapshot] = []
    for _ in range(MAX_BOUNDARIES_PER_PAGE):
        due = due_boundary(connection, latest_recorded)
        if due is None:
            break
        for contract_id in list(contracts_known_at(connection, due)):
            snapshot = take_boundary(connection, plan_of, contract_id, due, hours_kept)
            if snapshot is not None:
                taken.append(snapshot)
    return taken
