"""The claims service's own read model: an index of claims for filtered, cursor-paged lists.

Built from the service's own feed (not from aggregates), by a local follower that stores its
position in the same transaction as the rows. Claim details always come from the aggregate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from shared.feed.envelope import FeedEntry

metadata = sa.MetaData()

claim_index = sa.Table(
    "claim_index",
    metadata,
    sa.Column("claim_id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(64), nullable=False),
    sa.Column("provider_id", sa.String(64), nullable=False),
    sa.Column("participant_id", sa.String(64), nullable=False),
    sa.Column("outcome_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("occurred_on", sa.Date, nullable=False),
    sa.Column("contract_version", sa.Integer, nullable=False),
    sa.Column("derived_position", sa.BigInteger, nullable=False, unique=True),
    sa.Column("updated_position", sa.BigInteger, nullable=False),
)

STATUS_BY_TYPE = {
    "claim.verified": "verified",
    "claim.rejected": "rejected",
    "claim.voided": "voided",
    "claim.reversal_requested": "reversal_requested",
}


def apply_entry(connection: Connection, entry: FeedEntry) -> None:
    if entry.type == "claim.derived":
        data = entry.data
        connection.execute(
            sa.insert(claim_index).values(
                claim_id=entry.stream_id,
                contract_id=data["contract_id"],
                provider_id=data["provider_id"],
                participant_id=data["participant_id"],
                outcome_id=data["outcome_id"],
                status=data["status"],
                amount_minor=data["amount_minor"],
                currency=data["currency"],
                occurred_on=dt.date.fromisoformat(data["occurred_on"]),
                contract_version=data["contract_version"],
                derived_position=entry.position,
                updated_position=entry.position,
            )
        )
    elif entry.type in STATUS_BY_TYPE:
        connection.execute(
            sa.update(claim_index)
            .where(claim_index.c.claim_id == entry.stream_id)
            .values(status=STATUS_BY_TYPE[entry.type], updated_position=entry.position)
        )


@dataclass(frozen=True)
class ClaimFilter:
    contract_id: str | None = None
    provider_id: str | None = None
    status: str | None = None
    contract_ids: frozenset[str] | None = None


def list_claims(engine: Engine, claim_filter: ClaimFilter, after: int, limit: int) -> list[dict]:
    """Claims in derivation order after a cursor; new claims always sort after old ones."""
    query = sa.select(claim_index).where(claim_index.c.derived_position > after)
    if claim_filter.contract_id is not None:
        query = query.where(claim_index.c.contract_id == claim_filter.contract_id)
    if claim_filter.contract_ids is not None:
        query = query.where(claim_index.c.contract_id.in_(sorted(claim_filter.contract_ids)))
    if claim_filter.provider_id is not None:
        query = query.where(claim_index.c.provider_id == claim_filter.provider_id)
    if claim_filter.status is not None:
        query = query.where(claim_index.c.status == claim_filter.status)
    query = query.order_by(claim_index.c.derived_position).limit(limit)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]
