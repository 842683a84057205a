"""Metrics read models: the participant funnel, built from the claims feed.

A participant counts once per stage (event type), in the month of the first time it reached
that stage; late events that move a first occurrence earlier move the count with it. Raw event
counts are kept beside participant counts.
"""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services.metrics.performance import PerformanceProjector
from shared.feed.envelope import FeedEntry
from shared.sqlviews import Handler

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
    if entry.type in ("contract.registered", "contract.amended"):
        _upsert_contract(connection, entry)
    elif entry.type == "participant.registered":
        connection.execute(
            sa.insert(participants).values(
                stream_id=entry.stream_id,
                contract_id=entry.data["contract_id"],
                provider_id=entry.data["provider_id"],
                participant_id=entry.data["participant_id"],
            )
        )
    elif entry.type == "participant.event_recorded":
        _count_event(connection, entry)


def _upsert_contract(connection: Connection, entry: FeedEntry) -> None:
    rulebook = entry.data["rulebook"]
    values = {
        "name": rulebook["name"],
        "stages": json.dumps(list(rulebook["event_types"])),
        "providers": json.dumps([p["id"] for p in rulebook["providers"]]),
    }
    updated = connection.execute(
        sa.update(contracts)
        .where(contracts.c.contract_id == rulebook["contract_id"])
        .values(**values)
    ).rowcount
    if not updated:
        connection.execute(
            sa.insert(contracts).values(contract_id=rulebook["contract_id"], **values)
        )


def _count_event(connection: Connection, entry: FeedEntry) -> None:
    owner = connection.execute(
        sa.select(participants.c.contract_id, participants.c.provider_id).where(
            participants.c.stream_id == entry.stream_id
        )
    ).one()
    event_type = entry.data["type"]
    occurred_on = dt.date.fromisoformat(entry.data["occurred_on"])
    key = {
        "contract_id": owner.contract_id,
        "provider_id": owner.provider_id,
        "event_type": event_type,
    }
    _add(connection, key, _month(occurred_on), participants_delta=0, events_delta=1)
    first = connection.execute(
        sa.select(participant_stages.c.first_occurred_on).where(
            participant_stages.c.stream_id == entry.stream_id,
            participant_stages.c.event_type == event_type,
        )
    ).scalar_one_or_none()
    if first is None:
        connection.execute(
            sa.insert(participant_stages).values(
                stream_id=entry.stream_id, event_type=event_type, first_occurred_on=occurred_on
            )
        )
        _add(connection, key, _month(occurred_on), participants_delta=1, events_delta=0)
    elif occurred_on < first:
        connection.execute(
            sa.update(participant_stages)
            .where(
                participant_stages.c.stream_id == entry.stream_id,
                participant_stages.c.event_type == event_type,
            )
            .values(first_occurred_on=occurred_on)
        )
        _add(connection, key, _month(first), participants_delta=-1, events_delta=0)
        _add(connection, key, _month(occurred_on), participants_delta=1, events_delta=0)


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _add(
    connection: Connection,
    key: dict[str, str],
    month: str,
    *,
    participants_delta: int,
    events_delta: int,
) -> None:
    where = [
        funnel_counts.c.contract_id == key["contract_id"],
        funnel_counts.c.provider_id == key["provider_id"],
        funnel_counts.c.event_type == key["event_type"],
        funnel_counts.c.month == month,
    ]
    updated = connection.execute(
        sa.update(funnel_counts)
        .where(*where)
        .values(
            participants=funnel_counts.c.participants + participants_delta,
            events=funnel_counts.c.events + events_delta,
        )
    ).rowcount
    if not updated:
        connection.execute(
            sa.insert(funnel_counts).values(
                **key, month=month, participants=participants_delta, events=events_delta
            )
        )


def claims_handler(projector: PerformanceProjector) -> Handler:
    """What the metrics service does with each claims-feed entry: the funnel and the cube."""

    def handle(connection: Connection, entry: FeedEntry) -> None:
        apply_claims_entry(connection, entry)
        projector.apply(connection, entry)

    return handle
