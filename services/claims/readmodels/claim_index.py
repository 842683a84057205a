"""The claims service's own read models: a claim index for filtered, cursor-paged lists, and
each contract's verification deadlines.

Built from the service's own feed (not from aggregates), by a local follower that stores its
position in the same transaction as the rows. Claim details always come from the aggregate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from shared.feed import catalogue as feed
from shared.feed.envelope import FeedEntry
from shared.feed.views import Terms
from shared.sqlviews import aware, feed_positions

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
    sa.Column("sampled", sa.Boolean, nullable=False),
    sa.Column("sample_period", sa.String(7)),
    sa.Column("derived_at", sa.DateTime(timezone=True)),
    sa.Column("status_since", sa.DateTime(timezone=True)),
)

status_history = sa.Table(
    "claim_status_history",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("claim_id", sa.String(36), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_claim_status_history_claim", "claim_id", "recorded_at"),
)

contract_settings = sa.Table(
    "claims_contract_settings",
    metadata,
    sa.Column("contract_id", sa.String(64), primary_key=True),
    sa.Column("decision_days", sa.Integer, nullable=False),
    sa.Column("dispute_decision_days", sa.Integer, nullable=False),
)

INDEXED_TYPES = feed.CONTRACT_TYPES | {feed.ClaimDerived.TYPE} | feed.CLAIM_TRANSITIONS


def apply_entry(connection: Connection, entry: FeedEntry) -> None:
    payload = feed.parse(entry) if entry.type in INDEXED_TYPES else None
    if isinstance(payload, feed.RuleBookPublished):
        _upsert_settings(connection, payload.terms())
    if isinstance(payload, feed.ClaimDerived | feed.ClaimTransition):
        connection.execute(
            sa.insert(status_history).values(
                position=entry.position,
                claim_id=entry.stream_id,
                status=payload.status,
                recorded_at=entry.recorded_at,
            )
        )
    if isinstance(payload, feed.ClaimDerived):
        _insert_claim(connection, entry, payload)
    elif isinstance(payload, feed.ClaimTransition):
        values: dict[str, object] = {
            "status": payload.status,
            "status_since": dt.datetime.fromisoformat(payload.at),
            "updated_position": entry.position,
        }
        if isinstance(payload, feed.ClaimSubmitted):
            values |= {"sampled": payload.sampled, "sample_period": payload.sample_period}
        connection.execute(
            sa.update(claim_index).where(claim_index.c.claim_id == entry.stream_id).values(**values)
        )


def claims_by_status(engine: Engine) -> dict[str, int]:
    """Every contract's claims by current status (``outcomes_claims`` on ``/metrics``)."""
    query = sa.select(claim_index.c.status, sa.func.count()).group_by(claim_index.c.status)
    with engine.connect() as connection:
        return {status: number for status, number in connection.execute(query)}


def _insert_claim(connection: Connection, entry: FeedEntry, derived: feed.ClaimDerived) -> None:
    connection.execute(
        sa.insert(claim_index).values(
            claim_id=entry.stream_id,
            contract_id=derived.contract_id,
            provider_id=derived.provider_id,
            participant_id=derived.participant_id,
            outcome_id=derived.outcome_id,
            status=derived.status,
            amount_minor=derived.amount_minor,
            currency=derived.currency,
            occurred_on=dt.date.fromisoformat(derived.occurred_on),
            contract_version=derived.contract_version,
            derived_position=entry.position,
            updated_position=entry.position,
            sampled=False,
            derived_at=entry.recorded_at,
            status_since=entry.recorded_at,
        )
    )


def _upsert_settings(connection: Connection, terms: Terms) -> None:
    verification = terms.verification
    assert verification is not None, "a published rule book always states its verification"
    values = {
        "decision_days": verification.decision_days,
        "dispute_decision_days": verification.dispute_decision_days,
    }
    where = contract_settings.c.contract_id == terms.contract_id
    if not connection.execute(sa.update(contract_settings).where(where).values(**values)).rowcount:
        connection.execute(
            sa.insert(contract_settings).values(contract_id=terms.contract_id, **values)
        )


@dataclass(frozen=True)
class ClaimFilter:
    contract_id: str | None = None
    provider_id: str | None = None
    status: str | None = None
    outcome_id: str | None = None
    occurred_from: dt.date | None = None
    occurred_to: dt.date | None = None
    recorded_from: dt.datetime | None = None
    recorded_to: dt.datetime | None = None
    contract_ids: frozenset[str] | None = None
    as_known_at: dt.datetime | None = None


ORDERS = ("derived", "changed")  # by the claims-feed position of the derivation, or last change
INDEX_UPSTREAM = "claims"  # the index follower's name in feed_positions


@dataclass(frozen=True)
class ClaimPage:
    rows: list[dict[str, Any]]
    next_after: int  # where the next read resumes, on every page (the last one too)


def claim_page(
    engine: Engine, claim_filter: ClaimFilter, after: int, limit: int, order: str = "derived"
) -> ClaimPage:
    """A page of claims after a cursor, in derivation order (new claims always sort after old
    ones) or in the order of their last change (a claim changed again comes again, later).

    On a full page the cursor is the last row's; on the last page it is the index's position
    (read before the rows, so nothing the rows did not see is at or before it), so a reader
    that has read everything asks again with it and gets only what came since."""
    assert order in ORDERS, order
    with engine.connect() as connection:
        indexed = connection.execute(
            sa.select(feed_positions.c.position).where(feed_positions.c.upstream == INDEX_UPSTREAM)
        ).scalar_one_or_none()
        rows = _list(connection, claim_filter, after, limit, order)
    key = "derived_position" if order == "derived" else "updated_position"
    last = rows[-1][key] if rows else after
    if len(rows) == limit or claim_filter.as_known_at is not None:
        return ClaimPage(rows, last)
    return ClaimPage(rows, max(after, last, int(indexed or 0)))


def _list(
    connection: Connection, claim_filter: ClaimFilter, after: int, limit: int, order: str
) -> list[dict[str, Any]]:
    c = claim_index.c
    f = claim_filter
    cursor = c.derived_position if order == "derived" else c.updated_position
    conditions = [
        cursor > after,
        *([c.contract_id == f.contract_id] if f.contract_id is not None else []),
        *([c.contract_id.in_(sorted(f.contract_ids))] if f.contract_ids is not None else []),
        *([c.provider_id == f.provider_id] if f.provider_id is not None else []),
        *([c.outcome_id == f.outcome_id] if f.outcome_id is not None else []),
        *([c.occurred_on >= f.occurred_from] if f.occurred_from is not None else []),
        *([c.occurred_on <= f.occurred_to] if f.occurred_to is not None else []),
        *([c.derived_at >= f.recorded_from] if f.recorded_from is not None else []),
        *([c.derived_at < f.recorded_to] if f.recorded_to is not None else []),
    ]
    if f.as_known_at is not None:
        return _list_as_known_at(connection, conditions, f, limit)
    conditions += [c.status == f.status] if f.status is not None else []
    query = sa.select(claim_index).where(*conditions).order_by(cursor).limit(limit)
    return [dict(row._mapping) for row in connection.execute(query)]


def _list_as_known_at(
    connection: Connection, conditions: list[Any], f: ClaimFilter, limit: int
) -> list[dict[str, Any]]:
    """The list as it stood then: claims derived by then, each with its status then."""
    c, h = claim_index.c, status_history.c
    assert f.as_known_at is not None
    status_then = (
        sa.select(h.status)
        .where(h.claim_id == c.claim_id, h.recorded_at <= f.as_known_at)
        .order_by(h.position.desc())
        .limit(1)
        .scalar_subquery()
    )
    columns = [col for col in claim_index.c if col.name != "status"]
    inner = (
        sa.select(*columns, status_then.label("status"))
        .where(*conditions, c.derived_at <= f.as_known_at)
        .subquery()
    )
    query = sa.select(inner)
    if f.status is not None:
        query = query.where(inner.c.status == f.status)
    query = query.order_by(inner.c.derived_position).limit(limit)
    return [dict(row._mapping) for row in connection.execute(query)]


def overdue_claims(
    engine: Engine, claim_filter: ClaimFilter, now: dt.datetime, limit: int
) -> list[dict[str, Any]]:
    """Submitted claims past their decision deadline, and disputes past theirs, oldest first."""
    c, s = claim_index.c, contract_settings.c
    query = sa.select(claim_index, s.decision_days, s.dispute_decision_days).join(
        contract_settings, s.contract_id == c.contract_id
    )
    if claim_filter.contract_id is not None:
        query = query.where(c.contract_id == claim_filter.contract_id)
    if claim_filter.contract_ids is not None:
        query = query.where(c.contract_id.in_(sorted(claim_filter.contract_ids)))
    if claim_filter.provider_id is not None:
        query = query.where(c.provider_id == claim_filter.provider_id)
    query = query.where(c.status.in_(["submitted", "disputed"])).order_by(c.status_since)
    rows = []
    with engine.connect() as connection:
        for row in connection.execute(query):
            found = dict(row._mapping)
            found["status_since"] = aware(found["status_since"])
            days = (
                found["decision_days"]
                if found["status"] == "submitted"
                else found["dispute_decision_days"]
            )
            since = found["status_since"]
            due = since + dt.timedelta(days=days)
            if due < now:
                rows.append(found | {"due_at": due, "days_overdue": (now - due).days})
                if len(rows) >= limit:
                    break
    return rows


def sampling_rows(engine: Engine, contract_id: str, period: str) -> list[dict[str, Any]]:
    query = sa.select(claim_index).where(
        claim_index.c.contract_id == contract_id, claim_index.c.sample_period == period
    )
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


DECIDED = frozenset({"verified", "rejected", "disputed", "rejected_final"})
REJECTED = frozenset({"rejected", "rejected_final"})


@dataclass(frozen=True)
class SampleLine:
    """One provider's manual-review sample of a month, and what its rejection rate implies."""

    provider_id: str
    submitted: int
    sampled: int
    sampled_decided: int
    sampled_rejected: int
    rejection_rate: str  # rejected amount over decided amount in the sample, to 4 places
    population_amount_minor: int
    extrapolated_rejected_amount_minor: int


def sampling_lines(engine: Engine, contract_id: str, period: str) -> list[SampleLine]:
    rows = sampling_rows(engine, contract_id, period)
    providers = sorted({row["provider_id"] for row in rows})
    return [_sample_line(p, [r for r in rows if r["provider_id"] == p]) for p in providers]


def _sample_line(provider_id: str, rows: list[dict[str, Any]]) -> SampleLine:
    sample = [r for r in rows if r["sampled"]]
    decided = [r for r in sample if r["status"] in DECIDED]
    rejected = [r for r in decided if r["status"] in REJECTED]
    decided_minor = sum(r["amount_minor"] for r in decided)
    rate = (
        Decimal(sum(r["amount_minor"] for r in rejected)) / decided_minor
        if decided_minor
        else Decimal(0)
    )
    population = sum(r["amount_minor"] for r in rows)
    return SampleLine(
        provider_id=provider_id,
        submitted=len(rows),
        sampled=len(sample),
        sampled_decided=len(decided),
        sampled_rejected=len(rejected),
        rejection_rate=str(rate.quantize(Decimal("0.0001"))),
        population_amount_minor=population,
        extrapolated_rejected_amount_minor=int((rate * population).to_integral_value()),
    )


def contract_ids(engine: sa.Engine, after: str | None = None) -> list[str]:
    """The contracts the index has seen registered, by id (those after ``after``)."""
    query = sa.select(contract_settings.c.contract_id).order_by(contract_settings.c.contract_id)
    if after is not None:
        query = query.where(contract_settings.c.contract_id > after)
    with engine.connect() as connection:
        return [str(row[0]) for row in connection.execute(query)]
