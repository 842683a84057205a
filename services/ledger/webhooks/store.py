"""Subscriptions and their deliveries, in the ledger's SQL store.

A subscription is configuration, not a fact of the books: it lives in SQL tables beside the
ledger's read models (never on its feed, which auditors and other services read, and which
would carry the secret). Its deliveries are an outbox: the follower of the ledger's own feed
(:class:`Outbox`) queues a delivery per message per subscription in the transaction that
stores its feed position, so a crash neither loses nor doubles one; the dispatcher then sends
them. A delivery's id is derived from the subscription, the feed position and the message's
place in it, so however often it is sent, a receiver can tell it is the same message.

Secrets are encrypted at rest (AES-GCM, bound to their subscription) when the store's cipher
key (``OUTCOMES_CIPHER_KEY``) is configured, as every stored event then is.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Connection

from services.ledger.domain import book_id
from services.ledger.webhooks.messages import messages_of
from shared.feed.envelope import FeedEntry
from shared.sqlviews import aware

metadata = sa.MetaData()
SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER

subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("subscription_id", sa.String(36), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False, index=True),
    sa.Column("contract_id", sa.String(64), nullable=False),
    sa.Column("book_stream", sa.String(36), nullable=False, index=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("kinds", sa.String(200), nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("description", sa.String(200), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("start_after", sa.BigInteger, nullable=False),
    sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=True),
    sa.Column("request_digest", sa.String(64), nullable=True),
    sa.UniqueConstraint("owner", "idempotency_key", name="uq_webhook_subscriptions_key"),
)

deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("sequence", SEQUENCE, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(40), nullable=False, unique=True),
    sa.Column("subscription_id", sa.String(36), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Index("ix_webhook_deliveries_queue", "subscription_id", "status", "sequence"),
)

ACTIVE, PAUSED, DELETED = "active", "paused", "deleted"
PENDING, DELIVERED, CANCELLED = "pending", "delivered", "cancelled"


def delivery_id(subscription_id: str, position: int, ordinal: int) -> str:
    digest = hashlib.sha256(f"{subscription_id}:{position}:{ordinal}".encode()).hexdigest()
    return "msg_" + digest[:32]


class SecretBox:
    """Seals subscription secrets with AES-GCM under the store's cipher key, if there is one."""

    def __init__(self, cipher_key: str | None) -> None:
        self._aead = AESGCM(base64.b64decode(cipher_key)) if cipher_key else None

    def seal(self, subscription_id: str, secret: str) -> str:
        if self._aead is None:
            return "plain:" + secret
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), subscription_id.encode())
        return "aesgcm:" + base64.b64encode(nonce + sealed).decode()

    def open(self, subscription_id: str, stored: str) -> str:
        scheme, _, text = stored.partition(":")
        if scheme == "plain":
            return text
        if self._aead is None:
            raise RuntimeError("a webhook secret is encrypted but no cipher key is configured")
        raw = base64.b64decode(text)
        return self._aead.decrypt(raw[:12], raw[12:], subscription_id.encode()).decode()


@dataclass(frozen=True)
class NewSubscription:
    subscription_id: str
    owner: str
    contract_id: str
    url: str
    kinds: tuple[str, ...]
    sealed_secret: str
    description: str | None
    start_after: int
    now: dt.datetime
    idempotency_key: str | None
    request_digest: str


def insert_subscription(connection: Connection, new: NewSubscription) -> None:
    connection.execute(
        sa.insert(subscriptions).values(
            subscription_id=new.subscription_id,
            owner=new.owner,
            contract_id=new.contract_id,
            book_stream=str(book_id(new.contract_id)),
            url=new.url,
            kinds=",".join(new.kinds),
            secret=new.sealed_secret,
            description=new.description,
            status=ACTIVE,
            status_reason=None,
            start_after=new.start_after,
            failing_since=None,
            created_at=new.now,
            changed_at=new.now,
            idempotency_key=new.idempotency_key,
            request_digest=new.request_digest,
        )
    )


def subscription_row(connection: Connection, subscription_id: str) -> Any:
    return connection.execute(
        sa.select(subscriptions).where(subscriptions.c.subscription_id == subscription_id)
    ).one_or_none()


def by_key(connection: Connection, owner: str, key: str) -> Any:
    return connection.execute(
        sa.select(subscriptions).where(
            subscriptions.c.owner == owner, subscriptions.c.idempotency_key == key
        )
    ).one_or_none()


def count_live(connection: Connection, owner: str) -> int:
    return int(
        connection.execute(
            sa.select(sa.func.count()).where(
                subscriptions.c.owner == owner, subscriptions.c.status != DELETED
            )
        ).scalar_one()
    )


def subscription_page(
    connection: Connection,
    owner: str | None,
    contract_id: str | None,
    after: str,
    limit: int,
    contract_ids: frozenset[str] | None = None,
) -> Sequence[Any]:
    query = sa.select(subscriptions).where(
        subscriptions.c.subscription_id > after, subscriptions.c.status != DELETED
    )
    if contract_ids is not None:
        query = query.where(subscriptions.c.contract_id.in_(sorted(contract_ids)))
    if owner is not None:
        query = query.where(subscriptions.c.owner == owner)
    if contract_id is not None:
        query = query.where(subscriptions.c.contract_id == contract_id)
    return connection.execute(query.order_by(subscriptions.c.subscription_id).limit(limit)).all()


def set_status(
    connection: Connection, subscription_id: str, status: str, reason: str | None, now: dt.datetime
) -> None:
    connection.execute(
        sa.update(subscriptions)
        .where(subscriptions.c.subscription_id == subscription_id)
        .values(status=status, status_reason=reason, failing_since=None, changed_at=now)
    )
    if status == ACTIVE:  # what waited for a retry goes now, in order
        connection.execute(
            sa.update(deliveries)
            .where(deliveries.c.subscription_id == subscription_id, deliveries.c.status == PENDING)
            .values(next_attempt_at=now)
        )
    elif status == DELETED:
        connection.execute(
            sa.update(deliveries)
            .where(deliveries.c.subscription_id == subscription_id, deliveries.c.status == PENDING)
            .values(status=CANCELLED)
        )


def delivery_counts(connection: Connection, subscription_id: str) -> dict[str, int]:
    rows = connection.execute(
        sa.select(deliveries.c.status, sa.func.count())
        .where(deliveries.c.subscription_id == subscription_id)
        .group_by(deliveries.c.status)
    ).all()
    counts = {PENDING: 0, DELIVERED: 0, CANCELLED: 0}
    counts.update({status: int(count) for status, count in rows})
    return counts


def delivery_page(
    connection: Connection, subscription_id: str, status: str | None, after: int, limit: int
) -> Sequence[Any]:
    query = sa.select(deliveries).where(
        deliveries.c.subscription_id == subscription_id, deliveries.c.sequence > after
    )
    if status is not None:
        query = query.where(deliveries.c.status == status)
    return connection.execute(query.order_by(deliveries.c.sequence).limit(limit)).all()


class Outbox:
    """The page handler of the follower of the ledger's own feed: a delivery per message per
    subscription (live or paused, made before the entry), in feed order."""

    def __init__(self, clock: Any) -> None:
        self._clock = clock

    def __call__(self, connection: Connection, entry: FeedEntry) -> None:
        self.page(connection, [entry])

    def page(self, connection: Connection, entries: list[FeedEntry]) -> None:
        streams = {entry.stream_id for entry in entries}
        listening = connection.execute(
            sa.select(
                subscriptions.c.subscription_id,
                subscriptions.c.contract_id,
                subscriptions.c.book_stream,
                subscriptions.c.kinds,
                subscriptions.c.start_after,
            ).where(subscriptions.c.book_stream.in_(streams), subscriptions.c.status != DELETED)
        ).all()
        if not listening:
            return
        now = self._clock()
        rows = []
        for entry in entries:
            for subscription in listening:
                if subscription.book_stream != entry.stream_id:
                    continue
                if entry.position <= subscription.start_after:
                    continue
                kinds = set(subscription.kinds.split(","))
                for message in messages_of(entry, subscription.contract_id):
                    if message.kind.value not in kinds:
                        continue
                    rows.append(
                        {
                            "delivery_id": delivery_id(
                                subscription.subscription_id, entry.position, message.ordinal
                            ),
                            "subscription_id": subscription.subscription_id,
                            "position": entry.position,
                            "kind": message.kind.value,
                            "body": message.body(entry),
                            "status": PENDING,
                            "attempts": 0,
                            "created_at": now,
                            "next_attempt_at": now,
                        }
                    )
        if rows:
            connection.execute(sa.insert(deliveries), rows)


def delivery_out(row: Any) -> dict[str, Any]:
    def moment(value: dt.datetime | None) -> str | None:
        return aware(value).isoformat() if value is not None else None

    return {
        "delivery_id": row.delivery_id,
        "sequence": row.sequence,
        "kind": row.kind,
        "feed_position": row.position,
        "status": row.status,
        "attempts": row.attempts,
        "created_at": moment(row.created_at),
        "next_attempt_at": moment(row.next_attempt_at) if row.status == PENDING else None,
        "last_attempt_at": moment(row.last_attempt_at),
        "delivered_at": moment(row.delivered_at),
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "body": row.body,
    }
