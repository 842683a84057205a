"""Reading the report cube: live from SQL, rebuilt in memory as known at a past moment, or the
exact change between two moments (what the snapshots store and add).

Both readers answer one question, the sum of contributions grouped by some dimensions, so every
report is computed by the same code whichever reader it is given.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services.metrics.facts import (
    CASEWORKER,
    CubeKey,
    LiveEvent,
    ParticipantFacts,
    ReportingPlan,
    contributions,
    participant_facts,
)
from services.metrics.readmodels.tables import cube, events, participants
from shared.sqlviews import aware

Totals = dict[tuple[str, ...], int]
CHUNK = 500  # streams per IN (…) list
DIMENSIONS = ("provider_id", "site", "cohort", "flags")


@dataclass(frozen=True)
class Filters:
    provider_id: str | None = None
    site: str | None = None
    cohort: str | None = None
    flag: tuple[str, str] | None = None  # (flag attribute, value): participants with that value
    caseworker: str | None = None  # a caseworker's pseudonym (kept in the flags string)

    def matches(self, key: CubeKey) -> bool:
        return all(
            wanted is None or getattr(key, name) == wanted
            for name, wanted in (
                ("provider_id", self.provider_id),
                ("site", self.site),
                ("cohort", self.cohort),
            )
        ) and self.flags_match(key.flags)

    def matches_facts(self, facts: ParticipantFacts) -> bool:
        """A participant's facts (for rows kept per participant, such as rejections)."""
        return (
            self.provider_id in (None, facts.provider_id)
            and self.site in (None, facts.site)
            and self.cohort in (None, facts.cohort)
            and self.flags_match(facts.flags)
        )

    @property
    def in_flags(self) -> bool:
        """Whether some filter reads the flags string."""
        return self.flag is not None or self.caseworker is not None

    def flags_match(self, flags: str) -> bool:
        """A flags string holds the flag value and the caseworker asked for."""
        values = flag_values(flags) if self.in_flags else {}
        return (self.flag is None or values.get(self.flag[0]) == self.flag[1]) and (
            self.caseworker is None or values.get(CASEWORKER) == self.caseworker
        )

    def described(self) -> dict[str, str | None]:
        """The filters as a response states them (the flag as ``name:value``)."""
        return {
            "provider_id": self.provider_id,
            "site": self.site,
            "cohort": self.cohort,
            "flag": f"{self.flag[0]}:{self.flag[1]}" if self.flag else None,
            "caseworker": self.caseworker,
        }


def flag_values(flags: str) -> dict[str, str]:
    """A cube key's flags (``name=value;name=value``, in the plan's order, then the caseworker
    under ``@caseworker``) by name."""
    return dict(pair.split("=", 1) for pair in flags.split(";") if pair)


class CubeReader(Protocol):
    def totals(self, filters: Filters, measure: str, by: tuple[str, ...] = ()) -> Totals:
        """Sums of one measure's contributions keyed by (*by, k1, k2)."""
        ...


class SqlCube:
    """Groups in SQL; each answer is kept for the life of the reader (one request)."""

    def __init__(
        self,
        connection: Connection,
        contract_id: str,
        table: sa.Table = cube,
        where: tuple[sa.ColumnElement[bool], ...] = (),
    ) -> None:
        """``table``: the live cube, or a table of its columns (snapshots) narrowed by
        ``where``."""
        self._connection = connection
        self._contract_id = contract_id
        self._table = table
        self._where = where
        self._answers: dict[tuple[Filters, str, tuple[str, ...]], Totals] = {}
        self._flag_strings: list[str] | None = None

    def totals(self, filters: Filters, measure: str, by: tuple[str, ...] = ()) -> Totals:
        key = (filters, measure, by)
        if key not in self._answers:
            self._answers[key] = self._query(filters, measure, by)
        return self._answers[key]

    def _query(self, filters: Filters, measure: str, by: tuple[str, ...]) -> Totals:
        assert set(by) <= set(DIMENSIONS), by
        table = self._table
        columns = [table.c[name] for name in by] + [table.c.k1, table.c.k2]
        query = sa.select(*columns, sa.func.sum(table.c.n)).where(
            table.c.contract_id == self._contract_id, table.c.measure == measure, *self._where
        )
        for name in ("provider_id", "site", "cohort"):
            wanted = getattr(filters, name)
            if wanted is not None:
                query = query.where(table.c[name] == wanted)
        if filters.in_flags:  # the flags strings holding those values, found in Python
            accepted = [f for f in self._flags() if filters.flags_match(f)]
            query = query.where(table.c.flags.in_(accepted))
        rows = self._connection.execute(query.group_by(*columns)).all()
        return {tuple(row[:-1]): int(row[-1]) for row in rows if row[-1]}

    def _flags(self) -> list[str]:
        """Every flags string in the rows read (some may sum to nothing: harmless in a filter)."""
        if self._flag_strings is None:
            query = sa.select(self._table.c.flags).where(
                self._table.c.contract_id == self._contract_id, *self._where
            )
            self._flag_strings = list(self._connection.execute(query.distinct()).scalars())
        return self._flag_strings


class MemoryCube:
    def __init__(self, counts: Counter[CubeKey]) -> None:
        self._counts = counts

    def totals(self, filters: Filters, measure: str, by: tuple[str, ...] = ()) -> Totals:
        assert set(by) <= set(DIMENSIONS), by
        found: Counter[tuple[str, ...]] = Counter()
        for key, n in self._counts.items():
            if n and key.measure == measure and filters.matches(key):
                group = tuple(getattr(key, name) for name in by)
                found[(*group, key.k1, key.k2)] += n
        return {key: n for key, n in found.items() if n}


def counts_known_at(
    connection: Connection, plan: ReportingPlan, contract_id: str, known_at: dt.datetime
) -> Counter[CubeKey]:
    """Every participant's contributions from the events known at that moment."""
    live = _live_at(known_at)
    rows = connection.execute(
        event_rows()
        .where(events.c.contract_id == contract_id)
        .where(live)
        .order_by(events.c.stream_id, events.c.position)
    )
    total: Counter[CubeKey] = Counter()
    for _stream, group in itertools.groupby(rows, key=lambda row: row[0]):
        history = list(group)
        facts = participant_facts(
            plan, history[0][1], [LiveEvent(r[2], r[3], json.loads(r[4])) for r in history]
        )
        total.update(contributions(plan, facts))
    return total


def event_rows(*more: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """Event rows with their participant's provider: (stream, provider, type, occurred_on,
    attributes, *more)."""
    return sa.select(
        events.c.stream_id,
        participants.c.provider_id,
        events.c.type,
        events.c.occurred_on,
        events.c.attributes,
        *more,
    ).join(participants, participants.c.stream_id == events.c.stream_id)


def _live_at(known_at: dt.datetime | None) -> sa.ColumnElement[bool]:
    """Event rows that were the live version at ``known_at`` (None: now)."""
    if known_at is None:
        return events.c.superseded_at.is_(None)
    return sa.and_(
        events.c.recorded_at <= known_at,
        sa.or_(events.c.superseded_at.is_(None), events.c.superseded_at > known_at),
    )


def facts_of(
    connection: Connection,
    plan: ReportingPlan,
    owners: dict[str, str],
    known_at: dt.datetime | None,
) -> dict[str, ParticipantFacts]:
    """Some participants' facts (``owners``: stream → provider) from their events known then."""
    history: dict[str, list[LiveEvent]] = {stream: [] for stream in owners}
    streams = sorted(owners)
    for start in range(0, len(streams), CHUNK):
        for row in connection.execute(
            sa.select(events.c.stream_id, events.c.type, events.c.occurred_on, events.c.attributes)
            .where(events.c.stream_id.in_(streams[start : start + CHUNK]))
            .where(_live_at(known_at))
            .order_by(events.c.position)
        ):
            history[row[0]].append(LiveEvent(row[1], row[2], json.loads(row[3])))
    return {
        stream: participant_facts(plan, owners[stream], live) for stream, live in history.items()
    }


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
