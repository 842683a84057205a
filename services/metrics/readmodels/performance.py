"""The performance read models, built from the claims feed (and money from the ledger feed).

Each participant event is kept as a bitemporal row; after any change to a participant's history
its report contributions are recomputed (:mod:`services.metrics.facts`) and the difference is
added to the cube. A contract amendment recomputes every participant of the contract, since new
KPIs or stages change what each one contributes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services.metrics.facts import (
    CubeKey,
    LiveEvent,
    ReportingPlan,
    contributions,
    participant_facts,
    plan_for,
)
from services.metrics.readmodels.money import MoneyHandler
from services.metrics.readmodels.snapshots import take_due_boundaries
from services.metrics.readmodels.tables import (
    cube,
    events,
    participant_cube,
    participants,
    rulebooks,
)
from shared.feed import catalogue as feed
from shared.feed.envelope import FeedEntry
from shared.rules.model import RuleBook
from shared.sqlviews import add_counts, insert_rows

MAX_PLANS = 64
CHUNK = 500  # streams per IN (…) list
CUBE_KEY_COLUMNS = ("contract_id", *CubeKey._fields)

# what metrics reads of the claims feed for participants; its follower asks for only these
CLAIMS_FEED_TYPES = feed.PARTICIPANT_HISTORY_TYPES


class PlanCache:
    """Reporting plans by rule-book document, bounded."""

    def __init__(self) -> None:
        self._plans: dict[str, tuple[RuleBook, ReportingPlan]] = {}

    def get(self, document: str) -> tuple[RuleBook, ReportingPlan]:
        if document not in self._plans:
            if len(self._plans) >= MAX_PLANS:
                self._plans.pop(next(iter(self._plans)))
            rulebook = RuleBook.model_validate(json.loads(document))
            self._plans[document] = (rulebook, plan_for(rulebook))
        return self._plans[document]


class Owner(NamedTuple):
    contract_id: str
    provider_id: str


@dataclass
class PendingPage:
    """What a page of the claims feed will write, kept until the page (or the part of it up
    to a contract change) is flushed in a few bulk statements."""

    participant_rows: list[dict[str, Any]] = field(default_factory=list)
    owners: dict[str, Owner] = field(default_factory=dict)
    event_rows: list[dict[str, Any]] = field(default_factory=list)
    live_rows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    stored_supersedes: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    dirty: dict[str, None] = field(default_factory=dict)

    def register(self, entry: FeedEntry) -> None:
        subject = feed.ParticipantRegistered.of(entry)
        owner = Owner(subject.contract_id, subject.provider_id)
        self.owners[entry.stream_id] = owner
        self.participant_rows.append(
            {"stream_id": entry.stream_id, **owner._asdict(), "recorded_at": entry.recorded_at}
        )

    def add_event(self, entry: FeedEntry, event: feed.EventRecorded | feed.EventCorrected) -> None:
        row = {
            "position": entry.position,
            "stream_id": entry.stream_id,
            "event_id": event.event_id,
            "type": event.type,
            "occurred_on": dt.date.fromisoformat(event.occurred_on),
            "attributes": json.dumps(event.attributes, sort_keys=True),
            "recorded_at": entry.recorded_at,
            "superseded_at": None,
        }
        self.event_rows.append(row)
        self.live_rows[(entry.stream_id, event.event_id)] = row
        self.dirty[entry.stream_id] = None

    def supersede(self, entry: FeedEntry, event_id: str) -> None:
        """The live version of the event ends now: in this page's rows if it is there, else in
        the stored rows (the first supersession of a stored row is the one that counts)."""
        key = (entry.stream_id, event_id)
        pending = self.live_rows.pop(key, None)
        if pending is not None:
            pending["superseded_at"] = entry.recorded_at
        else:
            self.stored_supersedes.setdefault(key, entry.recorded_at)
        self.dirty[entry.stream_id] = None


class PerformanceProjector:
    """Applies claims-feed entries to the performance read models (inside the sink's
    transaction): it is the claims feed's handler. A page is applied in bulk: events are
    inserted together, and each participant whose history changed is recomputed once, at the
    end of the page."""

    def __init__(self, *, snapshots: bool = True, hours_kept: dt.timedelta | None = None) -> None:
        """``snapshots``: store the cube's hour-start boundaries as the feed passes them (off
        only to write a schema older than the snapshot tables, as the migration tests do);
        ``hours_kept``: how long hour changes are kept (default ``snapshots.HOURS_KEPT``)."""
        self._plans = PlanCache()
        self._snapshots = snapshots
        self.hours_kept = hours_kept
        self.apply_ledger = MoneyHandler()  # the ledger feed's handler

    def __call__(self, connection: Connection, entry: FeedEntry) -> None:
        self.page(connection, [entry])

    apply = __call__

    def page(self, connection: Connection, entries: list[FeedEntry]) -> None:
        pending = PendingPage()
        for entry in entries:
            match feed.parse(entry) if entry.type in CLAIMS_FEED_TYPES else None:
                case feed.ContractRegistered() as registered:
                    self._flush(connection, pending)
                    self._store_rulebook(connection, entry, registered)
                case feed.ContractAmended() as amended:
                    self._flush(connection, pending)
                    contract_id = self._store_rulebook(connection, entry, amended)
                    self.recompute_all(connection, contract_id)
                case feed.ParticipantRegistered():
                    pending.register(entry)
                case feed.EventRecorded() as recorded:
                    pending.add_event(entry, recorded)
                case feed.EventCorrected() as corrected:
                    pending.supersede(entry, corrected.event_id)
                    pending.add_event(entry, corrected)
                case feed.EventRetracted() as retracted:
                    pending.supersede(entry, retracted.event_id)
        self._flush(connection, pending)
        if entries and self._snapshots:
            latest = max(entry.recorded_at for entry in entries)
            take_due_boundaries(connection, self.plan_of, latest, self.hours_kept)

    def plan_of(self, connection: Connection, contract_id: str, version: int) -> ReportingPlan:
        document = connection.execute(
            sa.select(rulebooks.c.document)
            .where(rulebooks.c.contract_id == contract_id)
            .where(rulebooks.c.version == version)
        ).scalar_one()
        return self._plans.get(document)[1]

    def _store_rulebook(
        self, connection: Connection, entry: FeedEntry, published: feed.RuleBookPublished
    ) -> str:
        contract_id = published.terms().contract_id
        connection.execute(
            sa.insert(rulebooks).values(
                contract_id=contract_id,
                version=published.rulebook_version,
                document=json.dumps(published.rulebook),
                recorded_at=entry.recorded_at,
            )
        )
        return contract_id

    def _flush(self, connection: Connection, pending: PendingPage) -> None:
        if pending.participant_rows:
            insert_rows(connection, participants, pending.participant_rows)
        if pending.stored_supersedes:
            connection.execute(
                sa.update(events)
                .where(events.c.stream_id == sa.bindparam("b_stream"))
                .where(events.c.event_id == sa.bindparam("b_event"))
                .where(events.c.superseded_at.is_(None))
                .values(superseded_at=sa.bindparam("b_at")),
                [
                    {"b_stream": stream, "b_event": event_id, "b_at": at}
                    for (stream, event_id), at in pending.stored_supersedes.items()
                ],
            )
        if pending.event_rows:
            owners = pending.owners | owners_of(
                connection, {r["stream_id"] for r in pending.event_rows} - pending.owners.keys()
            )
            for row in pending.event_rows:
                row["contract_id"] = owners[row["stream_id"]].contract_id
            insert_rows(connection, events, pending.event_rows)
        self._recompute(connection, list(pending.dirty))
        pending.__init__()  # type: ignore[misc]

    # ---- the cube -------------------------------------------------------------------------
    def recompute_all(self, connection: Connection, contract_id: str | None = None) -> None:
        """Recompute every participant's share (of one contract, or of all), a chunk at a time
        in stream order, so memory holds one chunk whatever the number of participants."""
        after = ""
        while True:
            query = sa.select(participants.c.stream_id).where(participants.c.stream_id > after)
            if contract_id is not None:
                query = query.where(participants.c.contract_id == contract_id)
            chunk = list(
                connection.execute(query.order_by(participants.c.stream_id).limit(CHUNK)).scalars()
            )
            if not chunk:
                return
            self._recompute_chunk(connection, chunk)
            after = chunk[-1]

    def _recompute(self, connection: Connection, streams: list[str]) -> None:
        """Replace each participant's share of the cube with what its live events give now."""
        for start in range(0, len(streams), CHUNK):
            self._recompute_chunk(connection, streams[start : start + CHUNK])

    def _recompute_chunk(self, connection: Connection, streams: list[str]) -> None:
        owners = owners_of(connection, set(streams))
        live: dict[str, list[LiveEvent]] = {stream: [] for stream in streams}
        for row in connection.execute(
            sa.select(events.c.stream_id, events.c.type, events.c.occurred_on, events.c.attributes)
            .where(events.c.stream_id.in_(streams))
            .where(events.c.superseded_at.is_(None))
            .order_by(events.c.position)
        ):
            live[row[0]].append(LiveEvent(row[1], row[2], json.loads(row[3])))
        stored: dict[str, str] = {
            row[0]: row[1]
            for row in connection.execute(
                sa.select(participant_cube.c.stream_id, participant_cube.c.contributions).where(
                    participant_cube.c.stream_id.in_(streams)
                )
            )
        }
        documents: dict[str, str | None] = {}
        deltas: dict[str, Counter[CubeKey]] = {}
        inserts, updates = [], []
        for stream in streams:
            owner = owners[stream]
            if owner.contract_id not in documents:
                documents[owner.contract_id] = latest_rulebook(connection, owner.contract_id)
            document = documents[owner.contract_id]
            if document is None:
                continue
            _, plan = self._plans.get(document)
            new = contributions(plan, participant_facts(plan, owner.provider_id, live[stream]))
            delta = deltas.setdefault(owner.contract_id, Counter())
            delta.update(new)
            text = json.dumps(sorted([*key, n] for key, n in new.items()))
            if stream in stored:  # an empty share (all events retracted) is still a share
                delta.subtract({CubeKey(*key): n for *key, n in json.loads(stored[stream])})
                updates.append({"b_stream": stream, "b_contributions": text})
            else:
                inserts.append(
                    {"stream_id": stream, "contract_id": owner.contract_id, "contributions": text}
                )
        if inserts:
            insert_rows(connection, participant_cube, inserts)
        if updates:
            connection.execute(
                sa.update(participant_cube)
                .where(participant_cube.c.stream_id == sa.bindparam("b_stream"))
                .values(contributions=sa.bindparam("b_contributions")),
                updates,
            )
        for contract_id, delta in deltas.items():
            _add_to_cube(connection, contract_id, delta)


def latest_rulebook(
    connection: Connection, contract_id: str, known_at: dt.datetime | None = None
) -> str | None:
    return _rulebook(connection, contract_id, known_at, rulebooks.c.version.desc())


def first_rulebook(
    connection: Connection, contract_id: str, known_at: dt.datetime | None = None
) -> str | None:
    """The contract's first version: its effective date is when the contract starts."""
    return _rulebook(connection, contract_id, known_at, rulebooks.c.version)


def _rulebook(
    connection: Connection, contract_id: str, known_at: dt.datetime | None, order: Any
) -> str | None:
    query = sa.select(rulebooks.c.document).where(rulebooks.c.contract_id == contract_id)
    if known_at is not None:
        query = query.where(rulebooks.c.recorded_at <= known_at)
    found = connection.execute(query.order_by(order).limit(1)).scalar()
    return str(found) if found is not None else None


def owners_of(connection: Connection, streams: set[str]) -> dict[str, Owner]:
    found: dict[str, Owner] = {}
    ordered = sorted(streams)
    for start in range(0, len(ordered), CHUNK):
        rows = connection.execute(
            sa.select(
                participants.c.stream_id, participants.c.contract_id, participants.c.provider_id
            ).where(participants.c.stream_id.in_(ordered[start : start + CHUNK]))
        )
        found.update((row[0], Owner(row[1], row[2])) for row in rows)
    return found


def _add_to_cube(connection: Connection, contract_id: str, delta: Counter[CubeKey]) -> None:
    """Add a page's net change to the cube; rows that fall to zero are removed."""
    changed = [(key, n) for key, n in delta.items() if n]
    add_counts(
        connection,
        cube,
        [{"contract_id": contract_id, **key._asdict(), "n": n} for key, n in changed],
        ["n"],
    )
    fallen = [
        {
            f"b_{name}": value
            for name, value in (("contract_id", contract_id), *key._asdict().items())
        }
        for key, n in changed
        if n < 0
    ]
    if fallen:
        connection.execute(
            sa.delete(cube)
            .where(*(cube.c[name] == sa.bindparam(f"b_{name}") for name in CUBE_KEY_COLUMNS))
            .where(cube.c.n == 0),
            fallen,
        )
