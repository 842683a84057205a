"""Snapshots of the report cube as known at past moments, for fast "as known at" reports.

The cube as known at a moment *t* is the sum of every participant's contributions from its
events live at *t* (recorded by *t* and not yet superseded), under the rule book known at *t*.
Rebuilding that from every event costs time in proportion to the contract's history. Instead,
at every day start (UTC), once the claims feed has moved ``MARGIN`` past it, the projector
stores a **boundary** of each contract:

* a **change**: the cube as known at the day start less the cube as known at the day start
  before, from only the participants with an event recorded or superseded that day;
* or, at a month start, a **full** copy of the cube: the month's first full copy plus the
  month's changes (summed in SQL, nothing recomputed). The first boundary of a contract, and
  the first after an amendment (whose new plan changes every participant's share), is a full
  copy rebuilt from the events.

An "as known at *t*" report reads the latest full copy at or before *t* under the rule-book
version known at *t*, plus the changes stored after it up to *t* (at most a month of them,
grouped in SQL), plus, in memory, the change of the participants touched since the last
boundary (at most a day's, while the projector keeps up). Every step uses :func:`changes`, the
exact difference between two moments' cubes, so the answer equals the full rebuild (tested
against it at many moments). With no usable full copy (before the first boundary, or between an
amendment and the next day start) the report falls back to the full rebuild.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services.metrics.facts import (
    CubeKey,
    LiveEvent,
    ReportingPlan,
    contributions,
    participant_facts,
)
from services.metrics.readmodels.cube import (
    DIMENSIONS,
    CubeReader,
    Filters,
    MemoryCube,
    SqlCube,
    Totals,
    counts_known_at,
    event_rows,
)
from services.metrics.readmodels.tables import events, rulebooks, snapshot_cube, snapshots
from shared.sqlviews import add_counts, aware

# A feed entry is committed within this of the time it records (requests and batches are
# bounded far below it), so once the feed shows an entry recorded MARGIN after a day start,
# every entry recorded before that start has been applied.
MARGIN = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
MAX_BOUNDARIES_PER_PAGE = 31  # a backlog (after an upgrade or in a rebuild) is spread over pages
CHUNK = 500  # participants per IN (…) list
KEY_COLUMNS = ("measure", *DIMENSIONS, "k1", "k2")
FULL = "full"
CHANGE = "change"
PlanOf = Callable[[Connection, str, int], ReportingPlan]  # (contract, version) -> its plan


@dataclass(frozen=True)
class Snapshot:
    """A stored boundary: the whole cube (``FULL``) or its change since the day before."""

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
    """The latest full copy taken at or before ``at`` under that rule-book version."""
    found = connection.execute(
        sa.select(sa.func.max(snapshots.c.known_at))
        .where(snapshots.c.contract_id == contract_id)
        .where(snapshots.c.known_at <= at)
        .where(snapshots.c.rulebook_version == version)
        .where(snapshots.c.kind == FULL)
    ).scalar()
    return Snapshot(contract_id, aware(found), version) if found is not None else None


def changed_streams(
    connection: Connection, contract_id: str, since: dt.datetime, until: dt.datetime
) -> list[str]:
    """The participants with an event recorded or superseded in (since, until]."""
    recorded = events.c.recorded_at
    superseded = events.c.superseded_at
    query = (
        sa.select(events.c.stream_id)
        .where(events.c.contract_id == contract_id)
        .where(
            sa.or_(
                sa.and_(recorded > since, recorded <= until),
                sa.and_(superseded > since, superseded <= until),
            )
        )
        .distinct()
    )
    return sorted(connection.execute(query).scalars())


def changes(
    connection: Connection,
    plan: ReportingPlan,
    contract_id: str,
    since: dt.datetime,
    until: dt.datetime,
) -> Counter[CubeKey]:
    """The cube as known at ``until`` less the cube as known at ``since`` (both under
    ``plan``): only the participants touched in between are recomputed, a chunk at a time."""
    delta: Counter[CubeKey] = Counter()
    streams = changed_streams(connection, contract_id, since, until)
    for start in range(0, len(streams), CHUNK):
        rows = connection.execute(
            event_rows(events.c.recorded_at, events.c.superseded_at)
            .where(events.c.stream_id.in_(streams[start : start + CHUNK]))
            .where(events.c.recorded_at <= until)
            .order_by(events.c.stream_id, events.c.position)
        )
        for _stream, group in itertools.groupby(rows, key=lambda row: row[0]):
            provider, history = "", []
            for row in group:
                provider = row[1]
                superseded = aware(row[6]) if row[6] is not None else None
                event = LiveEvent(row[2], row[3], json.loads(row[4]))
                history.append(_Version(event, aware(row[5]), superseded))
            delta.update(_share(plan, provider, history, until))
            delta.subtract(_share(plan, provider, history, since))
    return delta


class _Version(NamedTuple):
    """One stored version of an event, and when it was known."""

    event: LiveEvent
    recorded_at: dt.datetime
    superseded_at: dt.datetime | None

    def live_at(self, at: dt.datetime) -> bool:
        return self.recorded_at <= at and (self.superseded_at is None or self.superseded_at > at)


def _share(
    plan: ReportingPlan, provider_id: str, history: list[_Version], at: dt.datetime
) -> Counter[CubeKey]:
    """A participant's contributions from its events live at ``at`` (none without any, as in
    :func:`counts_known_at`)."""
    live = [version.event for version in history if version.live_at(at)]
    if not live:
        return Counter()
    return contributions(plan, participant_facts(plan, provider_id, live))


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


def cube_known_at(
    connection: Connection,
    plan: ReportingPlan,
    version: int,
    contract_id: str,
    known_at: dt.datetime,
) -> CubeReader:
    """The cube as known at ``known_at``: the latest full copy under the version known then,
    the changes stored after it, and the participants changed since the last of them."""
    full = latest_full(connection, contract_id, known_at, version)
    if full is None:
        return MemoryCube(counts_known_at(connection, plan, contract_id, known_at))
    after = (snapshots.c.known_at > full.known_at, snapshots.c.known_at <= known_at)
    stored = [full, *_boundaries(connection, contract_id, *after)]
    assert all(b.kind == CHANGE and b.rulebook_version == version for b in stored[1:]), stored
    since = stored[-1].known_at
    return SnapshotCube(connection, stored, changes(connection, plan, contract_id, since, known_at))


def take_boundary(
    connection: Connection, plan_of: PlanOf, contract_id: str, at: dt.datetime
) -> Snapshot | None:
    """Store the contract's boundary at ``at`` (nothing if the contract was not known then or
    the boundary exists)."""
    version = version_known_at(connection, contract_id, at)
    if version is None:
        return None
    before = _boundaries(connection, contract_id, snapshots.c.known_at <= at)
    if before and before[-1].known_at == at:
        return None
    plan = plan_of(connection, contract_id, version)
    previous = before[-1] if before else None
    if previous is None or previous.rulebook_version != version:
        snapshot = _insert_header(connection, Snapshot(contract_id, at, version, FULL))
        _add(connection, snapshot, counts_known_at(connection, plan, contract_id, at))
        return snapshot
    change = changes(connection, plan, contract_id, previous.known_at, at)
    if at.day != 1:
        snapshot = _insert_header(connection, Snapshot(contract_id, at, version, CHANGE))
        _add(connection, snapshot, change)
        return snapshot
    full = latest_full(connection, contract_id, at, version)
    assert full is not None  # every version's boundaries start with a full copy
    summed = [b.known_at for b in before if b.known_at >= full.known_at]
    snapshot = _insert_header(connection, Snapshot(contract_id, at, version, FULL))
    stored = [snapshot_cube.c[name] for name in KEY_COLUMNS]
    connection.execute(
        sa.insert(snapshot_cube).from_select(
            ["contract_id", "known_at", *KEY_COLUMNS, "n"],
            sa.select(
                snapshot_cube.c.contract_id,
                sa.literal(at, snapshot_cube.c.known_at.type),
                *stored,
                sa.func.sum(snapshot_cube.c.n),
            )
            .where(snapshot_cube.c.contract_id == contract_id)
            .where(snapshot_cube.c.known_at.in_(summed))
            .group_by(snapshot_cube.c.contract_id, *stored)
            .having(sa.func.sum(snapshot_cube.c.n) != 0),
        )
    )
    _add(connection, snapshot, change)
    return snapshot


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
    if snapshot.kind == FULL and any(row["n"] < 0 for row in rows):
        connection.execute(
            sa.delete(snapshot_cube)
            .where(snapshot_cube.c.contract_id == snapshot.contract_id)
            .where(snapshot_cube.c.known_at == snapshot.known_at)
            .where(snapshot_cube.c.n == 0)
        )


def day_start_after(moment: dt.datetime) -> dt.datetime:
    """The first day start (UTC) strictly after ``moment``."""
    return dt.datetime.combine(moment.astimezone(dt.UTC).date(), dt.time(), dt.UTC) + DAY


def due_boundary(connection: Connection, latest_recorded: dt.datetime) -> dt.datetime | None:
    """The next day start to store, if the feed has moved ``MARGIN`` past it: the day after
    the latest boundary, or after the first rule book recorded."""
    taken = connection.execute(sa.select(sa.func.max(snapshots.c.known_at))).scalar()
    if taken is None:
        taken = connection.execute(sa.select(sa.func.min(rulebooks.c.recorded_at))).scalar()
        if taken is None:
            return None
    due = day_start_after(aware(taken))
    return due if due + MARGIN <= latest_recorded else None


def contracts_known_at(connection: Connection, at: dt.datetime) -> Iterable[str]:
    return connection.execute(
        sa.select(rulebooks.c.contract_id)
        .where(rulebooks.c.recorded_at <= at)
        .distinct()
        .order_by(rulebooks.c.contract_id)
    ).scalars()


def take_due_boundaries(
    connection: Connection, plan_of: PlanOf, latest_recorded: dt.datetime
) -> list[Snapshot]:
    """After a page of the claims feed: store the day starts the feed has passed (every
    contract known then), at most ``MAX_BOUNDARIES_PER_PAGE`` of them."""
    taken: list[Snapshot] = []
    for _ in range(MAX_BOUNDARIES_PER_PAGE):
        due = due_boundary(connection, latest_recorded)
        if due is None:
            break
        for contract_id in list(contracts_known_at(connection, due)):
            snapshot = take_boundary(connection, plan_of, contract_id, due)
            if snapshot is not None:
                taken.append(snapshot)
    return taken
