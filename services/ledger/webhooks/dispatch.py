"""The dispatcher: sends queued deliveries, signed, in order per subscription, retrying with
exponential backoff, and pauses a subscription whose receiver keeps failing.

Each subscription's deliveries go one at a time in feed order: a failure holds the ones after
it until it succeeds (at least once, never out of order). Different subscriptions are sent in
parallel. A failed attempt is retried after ``backoff_s`` doubling up to ``backoff_max_s`` (±10%
jitter); once a subscription has failed for ``retry_for_s`` (24 hours by default) without a
success, it is paused with the reason, and resuming it sends what waited. Only the replica
holding the webhooks lease dispatches, so deliveries are not sent twice by two replicas
(a receiver must still deduplicate by ``webhook-id``: a crash after sending and before
recording sends again).

Signing is the Standard Webhooks scheme, with its reference library: ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook

from services.ledger.webhooks import store
from services.ledger.webhooks.store import ACTIVE, DELIVERED, PAUSED, PENDING, SecretBox
from services.ledger.webhooks.targets import (
    IpNetwork,
    TargetRefused,
    check_resolved,
    check_url,
    checked_transport,
)
from shared.background import WorkerState
from shared.feed.lease import Lease
from shared.sqlviews import aware
from shared.tally import Tally
from shared.tracing import instrument_client

log = logging.getLogger(__name__)
MAX_ERROR = 500
PRUNE_EVERY_S = 3600.0  # old deliveries are forgotten hourly, at most PRUNE_BATCH at a time
PRUNE_BATCH = 10_000
USER_AGENT = "outcomes-webhooks/1"


@dataclass(frozen=True)
class RetryPolicy:
    backoff_s: float = 5.0
    backoff_max_s: float = 4 * 3600.0
    retry_for_s: float = 24 * 3600.0

    def delay_s(self, attempts: int, rng: random.Random) -> float:
        """How long after the ``attempts``-th failed attempt to try again."""
        base = min(self.backoff_max_s, self.backoff_s * 2.0 ** min(attempts - 1, 40))
        jitter: float = rng.uniform(0.9, 1.1)
        return base * jitter


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        secrets: SecretBox,
        deny: tuple[IpNetwork, ...],
        *,
        policy: RetryPolicy = RetryPolicy(),
        timeout_s: float = 10.0,
        concurrency: int = 4,
        burst: int = 100,
        idle_s: float = 0.5,
        kept_days: float = 30.0,
        lease: Lease | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._engine = engine
        self._secrets = secrets
        self._deny = deny
        self.attempts = Tally()  # attempts recorded: "delivered" or "failed"
        self.state = WorkerState("webhooks")
        self._policy = policy
        self._burst = burst
        self._idle_s = idle_s
        self._kept_days = kept_days
        self._next_prune = 0.0
        self._lease = lease
        self._clock = clock
        self._rng = random.Random()
        self._client = httpx.Client(
            timeout=timeout_s,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            transport=checked_transport(deny, httpx.Limits(max_connections=concurrency * 2)),
        )
        instrument_client(self._client)  # each delivery a span, its trace in the headers
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhooks")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- running ---------------------------------------------------------------------------
    def wake(self) -> None:
        """Something was queued or resumed: look now rather than at the next idle tick."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="webhooks-dispatch", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._pool.shutdown(wait=True, cancel_futures=True)  # in-flight sends end by the timeout
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.state.holding = self._lease is None or self._lease.hold()
                if not self.state.holding:
                    self._stop.wait(self._idle_s)
                    continue
                sent = self.run_once()
                if time.monotonic() >= self._next_prune:
                    self.prune()
                    self._next_prune = time.monotonic() + PRUNE_EVERY_S
            except Exception:  # the dispatcher outlives a failing database; it logs and goes on
                self.state.failed_rounds += 1
                log.exception("webhook dispatcher failed; trying again")
                sent = 0
            if not sent:
                self._wake.wait(self._idle_s)
                self._wake.clear()

    def prune(self) -> int:
        """Forget deliveries sent (or cancelled) more than ``kept_days`` ago, oldest first, a
        bounded batch at a time; how many went. Pending ones are never pruned."""
        cutoff = self._clock() - dt.timedelta(days=self._kept_days)
        table = store.deliveries
        done = sa.or_(
            sa.and_(table.c.status == DELIVERED, table.c.delivered_at < cutoff),
            sa.and_(table.c.status == store.CANCELLED, table.c.created_at < cutoff),
        )
        oldest = sa.select(table.c.sequence).where(done).order_by(table.c.sequence)
        with self._engine.begin() as connection:
            gone = connection.execute(
                sa.delete(table).where(table.c.sequence.in_(oldest.limit(PRUNE_BATCH)))
            ).rowcount
        return int(gone or 0)

    def run_once(self) -> int:
        """Send what is due, every subscription's run in parallel; how many were attempted."""
        due = self._due()
        if not due:
            return 0
        return sum(self._pool.map(self._send_run, due))

    # ---- one subscription's run --------------------------------------------------------------
    def _due(self) -> list[Any]:
        now = self._clock()
        head = (
            sa.select(
                store.deliveries.c.subscription_id,
                sa.func.min(store.deliveries.c.sequence).label("head"),
            )
            .where(store.deliveries.c.status == PENDING)
            .group_by(store.deliveries.c.subscription_id)
            .subquery()
        )
        query = (
            sa.select(store.subscriptions.c.subscription_id, store.subscriptions.c.url)
            .join(head, head.c.subscription_id == store.subscriptions.c.subscription_id)
            .join(store.deliveries, store.deliveries.c.sequence == head.c.head)
            .where(
                store.subscriptions.c.status == ACTIVE,
                store.deliveries.c.next_attempt_at <= now,
            )
        )
        with self._engine.connect() as connection:
            return list(connection.execute(query).all())

    def _send_run(self, subscription: Any) -> int:
        """Send a subscription's due deliveries in order until one fails (or ``burst`` are
        sent), then record them all in one transaction. A crash before the record sends them
        again: at least once, never out of order."""
        with self._engine.connect() as connection:
            row = store.subscription_row(connection, subscription.subscription_id)
            queued = store.delivery_page(
                connection, subscription.subscription_id, PENDING, 0, self._burst
            )
        if row is None or row.status != ACTIVE:
            return 0
        signer = Webhook(self._secrets.open(row.subscription_id, row.secret))
        sent: list[tuple[Any, Outcome, dt.datetime]] = []
        refused = self._check_target(row.url)  # once a run: its host resolved afresh
        for delivery in queued:
            if aware(delivery.next_attempt_at) > self._clock():
                break
            outcome = refused or self._post(row.url, signer, delivery)
            sent.append((delivery, outcome, self._clock()))
            if not outcome.ok or self._stop.is_set():
                break
        if sent:
            self._record(row.subscription_id, sent)
        return len(sent)

    def _check_target(self, url: str) -> Outcome | None:
        """Why deliveries may not go to this URL now (its host resolved afresh), or None."""
        try:
            host = check_url(url, self._deny)
            parts = urlsplit(url)
            check_resolved(host, parts.port or (443 if parts.scheme == "https" else 80), self._deny)
        except TargetRefused as exc:
            return Outcome(False, None, f"refused target: {exc}")
        except OSError as exc:  # the name does not resolve (now): a failed attempt, retried
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
        return None

    def _post(self, url: str, signer: Webhook, delivery: Any) -> Outcome:
        sent_at = self._clock()
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.delivery_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signer.sign(delivery.delivery_id, sent_at, delivery.body),
        }
        try:
            with self._client.stream(
                "POST", url, content=delivery.body.encode(), headers=headers
            ) as response:
                status = response.status_code
        except TargetRefused as exc:  # resolved again to connect, to a refused address
            return Outcome(False, None, f"refused target: {exc}")
        except httpx.TimeoutException as exc:
            return Outcome(False, None, f"timed out ({type(exc).__name__})")
        except (httpx.HTTPError, OSError) as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
        if 200 <= status < 300:
            return Outcome(True, status, None)
        return Outcome(False, status, f"answered HTTP {status}")

    def _record(self, subscription_id: str, sent: list[tuple[Any, Outcome, dt.datetime]]) -> None:
        """A run's attempts: every one but the last succeeded; the last may have failed."""
        delivered = [
            {
                "b_sequence": delivery.sequence,
                "b_attempts": delivery.attempts + 1,
                "b_at": at,
                "b_status": outcome.status_code,
            }
            for delivery, outcome, at in sent
            if outcome.ok
        ]
        table = store.deliveries
        with self._engine.begin() as connection:
            if delivered:
                connection.execute(
                    sa.update(table)
                    .where(
                        table.c.sequence == sa.bindparam("b_sequence"), table.c.status == PENDING
                    )
                    .values(
                        status=DELIVERED,
                        attempts=sa.bindparam("b_attempts"),
                        last_attempt_at=sa.bindparam("b_at"),
                        delivered_at=sa.bindparam("b_at"),
                        last_status_code=sa.bindparam("b_status"),
                        last_error=None,
                    ),
                    delivered,
                )
            delivery, outcome, at = sent[-1]
            if not outcome.ok:
                attempts = delivery.attempts + 1
                delay = self._policy.delay_s(attempts, self._rng)
                connection.execute(
                    sa.update(table)
                    .where(table.c.sequence == delivery.sequence, table.c.status == PENDING)
                    .values(
                        attempts=attempts,
                        last_attempt_at=at,
                        last_status_code=outcome.status_code,
                        last_error=outcome.error,
                        next_attempt_at=at + dt.timedelta(seconds=delay),
                    )
                )
            self._note_subscription(connection, subscription_id, sent)
        failed = 0 if sent[-1][1].ok else 1
        self.attempts.add("delivered", len(sent) - failed)
        self.attempts.add("failed", failed)

    def _note_subscription(
        self, connection: Any, subscription_id: str, sent: list[tuple[Any, Outcome, dt.datetime]]
    ) -> None:
        """Clear the failure streak on a success; start it on a first failure; pause the
        subscription once the streak has lasted ``retry_for_s``."""
        table = store.subscriptions
        where = table.c.subscription_id == subscription_id
        delivery, outcome, at = sent[-1]
        if outcome.ok or len(sent) > 1:  # a success in this run ends any earlier streak
            since = None
        else:
            since = connection.execute(sa.select(table.c.failing_since).where(where)).scalar()
        if outcome.ok:
            connection.execute(
                sa.update(table).where(where, table.c.failing_since.is_not(None))
                .values(failing_since=None)
            )  # fmt: skip
            return
        if since is None:
            connection.execute(sa.update(table).where(where).values(failing_since=at))
            return
        failing_s = (at - aware(since)).total_seconds()
        if failing_s >= self._policy.retry_for_s:
            first = aware(since).isoformat()
            reason = (
                f"paused after failing for {failing_s:.0f} s (since {first}); "
                f"delivery {delivery.delivery_id}: {outcome.error}"
            )
            connection.execute(
                sa.update(table).where(where, table.c.status == ACTIVE)
                .values(status=PAUSED, status_reason=reason, changed_at=at)
            )  # fmt: skip
            log.warning("webhook subscription %s %s", subscription_id, reason)
