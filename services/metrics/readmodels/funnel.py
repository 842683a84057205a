"""Metrics read models: the participant funnel, built from the claims feed.

A participant counts once per stage (event type), in the month of the first time it reached
that stage; late events that move a first occurrence earlier move the count with it. Raw event
counts are kept beside participant counts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services.metrics.readmodels.performance import CHUNK, PerformanceProjector
from shared.feed import catalogue as feed
from shared.feed.envelope import FeedEntry
from shared.periods import month_of
from shared.sqlviews import add_counts

metadata = sa.MetaData()

contracts = sa.Table(
    "metrics_contracts",
    metadata,
    sa.Column("contract_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("stages", sa.Text, nullable=False),
    sa.Column("providers", sa.Text, nullable=False),
)

participants = sa.Table(
    "metrics_participants",
    metadata,
    sa.Column("stream_id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(64), nullable=False),
    sa.Column("provider_id", sa.String(64), nullable=False),
    sa.Column("participant_id", sa.String(64), nullable=False),
)

participant_stages = sa.Table(
    "metrics_participant_stages",
    metadata,
    sa.Column("stream_id", sa.String(36), primary_key=True),
    sa.Column("event_type", sa.String(64), primary_key=True),
    sa.Column("first_occurred_on", sa.Date, nullable=False),
)

funnel_counts = sa.Table(
    "metrics_funnel_counts",
    metadata,
    sa.Column("contract_id", sa.String(64), primary_key=True),
    sa.Column("provider_id", sa.String(64), primary_key=True),
    sa.Column("event_type", sa.String(64), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("participants", sa.BigInteger, nullable=False),
    sa.Column("events", sa.BigInteger, nullable=False),
)


def apply_claims_entry(connection: Connection, entry: FeedEntry) -> None:
    apply_claims_page(connection, [entry])


def apply_claims_page(connection: Connection, entries: list[FeedEntry]) -> None:
    """The funnel's share of a page: registrations and first stages in bulk."""
    registered: list[dict[str, str]] = []
    recorded: list[FeedEntry] = []
    for entry in entries:
        if entry.type in feed.CONTRACT_TYPES:
            _upsert_contract(connection, feed.parse(entry))
        elif entry.type == feed.ParticipantRegistered.TYPE:
            subject = feed.ParticipantRegistered.of(entry)
            registered.append(
                {
                    "stream_id": entry.stream_id,
                    "contract_id": subject.contract_id,
                    "provider_id": subject.provider_id,
                    "participant_id": subject.participant_id,
                }
            )
        elif entry.type == feed.EventRecorded.TYPE:
            recorded.append(entry)
    if registered:
        connection.execute(sa.insert(participants), registered)
    if recorded:
        _count_events(connection, recorded)


def _upsert_contract(connection: Connection, published: feed.Payload) -> None:
    assert isinstance(published, feed.RuleBookPublished)
    terms = published.terms()
    values = {
        "name": terms.name,
        "stages": json.dumps(list(terms.event_types)),
        "providers": json.dumps(terms.provider_ids),
    }
    updated = connection.execute(
        sa.update(contracts).where(contracts.c.contract_id == terms.contract_id).values(**values)
    ).rowcount
    if not updated:
        connection.execute(sa.insert(contracts).values(contract_id=terms.contract_id, **values))


def _count_events(connection: Connection, recorded: list[FeedEntry]) -> None:
    streams = sorted({entry.stream_id for entry in recorded})
    owners: dict[str, tuple[str, str]] = {}
    firsts: dict[tuple[str, str], dt.date] = {}
    for start in range(0, len(streams), CHUNK):
        chunk = streams[start : start + CHUNK]
        owners.update(
            (row[0], (row[1], row[2]))
            for row in connection.execute(
                sa.select(
                    participants.c.stream_id, participants.c.contract_id, participants.c.provider_id
                ).where(participants.c.stream_id.in_(chunk))
            )
        )
        firsts.update(
            ((row[0], row[1]), row[2])
            for row in connection.execute(
                sa.select(
                    participant_stages.c.stream_id,
                    participant_stages.c.event_type,
                    participant_stages.c.first_occurred_on,
                ).where(participant_stages.c.stream_id.in_(chunk))
            )
        )
    before = dict(firsts)
    counts: Counter[tuple[str, str, str, str, str]] = Counter()  # key + month + which count
    for entry in recorded:
        contract_id, provider_id = owners[entry.stream_id]
        event = feed.EventRecorded.of(entry)
        event_type = event.type
        occurred_on = dt.date.fromisoformat(event.occurred_on)
        key = (contract_id, provider_id, event_type)
        counts[(*key, month_of(occurred_on), "events")] += 1
        first = firsts.get((entry.stream_id, event_type))
        if first is None or occurred_on < first:
            if first is not None:
                counts[(*key, month_of(first), "participants")] -= 1
            counts[(*key, month_of(occurred_on), "participants")] += 1
            firsts[(entry.stream_id, event_type)] = occurred_on
    _store_firsts(connection, before, firsts)
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for (contract_id, provider_id, event_type, month, which), n in counts.items():
        row = rows.setdefault(
            (contract_id, provider_id, event_type, month),
            {
                "contract_id": contract_id,
                "provider_id": provider_id,
                "event_type": event_type,
                "month": month,
                "participants": 0,
                "events": 0,
            },
        )
        row[which] += n
    add_counts(connection, funnel_counts, list(rows.values()), ["participants", "events"])


def _store_firsts(
    connection: Connection,
    before: dict[tuple[str, str], dt.date],
    after: dict[tuple[str, str], dt.date],
) -> None:
    new = [
        {"stream_id": stream, "event_type": kind, "first_occurred_on": day}
        for (stream, kind), day in after.items()
        if (stream, kind) not in before
    ]
    moved = [
        {"b_stream": stream, "b_type": kind, "b_day": day}
        for (stream, kind), day in after.items()
        if (stream, kind) in before and before[(stream, kind)] != day
    ]
    if new:
        connection.execute(sa.insert(participant_stages), new)
    if moved:
        connection.execute(
            sa.update(participant_stages)
            .where(participant_stages.c.stream_id == sa.bindparam("b_stream"))
            .where(participant_stages.c.event_type == sa.bindparam("b_type"))
            .values(first_occurred_on=sa.bindparam("b_day")),
            moved,
        )


# what metrics reads of each feed; its followers ask for only these
CLAIMS_FEED_TYPES = feed.PARTICIPANT_HISTORY_TYPES
LEDGER_FEED_TYPES = frozenset({feed.BookOpened.TYPE, feed.TransactionPosted.TYPE})


class ClaimsHandler:
    """What the metrics service does with the claims feed: the funnel and the cube, a page at
    a time (or an entry at a time, with the same effects)."""

    def __init__(self, projector: PerformanceProjector) -> None:
        self._projector = projector

    def __call__(self, connection: Connection, entry: FeedEntry) -> None:
        self.page(connection, [entry])

    def page(self, connection: Connection, entries: list[FeedEntry]) -> None:
        apply_claims_page(connection, entries)
        self._projector.page(connection, entries)


def claims_handler(projector: PerformanceProjector) -> ClaimsHandler:
    return ClaimsHandler(projector)
