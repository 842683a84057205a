"""Webhooks in a running ledger: the outbox follower and the dispatcher, under one lease."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from services.ledger.application import LedgerApplication
from services.ledger.settings import LedgerSettings
from services.ledger.webhooks import store
from services.ledger.webhooks.dispatch import Dispatcher, RetryPolicy
from services.ledger.webhooks.messages import SOURCE_TYPES
from services.ledger.webhooks.schemas import SubscriptionIn
from services.ledger.webhooks.store import Outbox, SecretBox
from services.ledger.webhooks.targets import TargetRefused, check_url, networks
from shared.errors import Conflict, FieldProblem, InvalidInput
from shared.feed.envelope import FeedEntry
from shared.feed.follower import FeedSink, Follower, LocalFeedSource
from shared.feed.lease import lease_for
from shared.identifiers import canonical_sha256
from shared.settings import CommonSettings
from shared.sqlviews import SqlSink

OUTBOX = "ledger-webhooks"  # the follower's name, its feed position's and its lease's


class SubscriptionConflict(Conflict):
    """An Idempotency-Key reused with another body, or too many subscriptions."""


class _WakingSink:
    """After a page's deliveries are committed, the dispatcher looks at once."""

    def __init__(self, sink: FeedSink, wake: Callable[[], None]) -> None:
        self._sink = sink
        self._wake = wake

    def position(self) -> int:
        return self._sink.position()

    def apply(self, entries: list[FeedEntry]) -> None:
        self._sink.apply(entries)
        self._wake()


class Webhooks:
    """What the routes need (the refused networks, the secret box, the limit, a way to wake
    the dispatcher), and the two workers, started only where ``LEDGER_WEBHOOKS`` is on."""

    def __init__(
        self,
        settings: LedgerSettings,
        common: CommonSettings,
        engine: Engine,
        application: LedgerApplication,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.deny = networks(settings.webhook_deny_networks)
        key = common.cipher_key.get_secret_value() if common.cipher_key else None
        self.secrets = SecretBox(key)
        self.max_subscriptions = settings.webhook_max_subscriptions
        self._engine = engine
        self._enabled = settings.webhooks
        lease = lease_for(settings.store_url(common), OUTBOX)
        self.dispatcher = Dispatcher(
            engine,
            self.secrets,
            self.deny,
            policy=RetryPolicy(
                settings.webhook_backoff_s,
                settings.webhook_backoff_max_s,
                settings.webhook_retry_for_s,
            ),
            timeout_s=settings.webhook_timeout_s,
            concurrency=settings.webhook_concurrency,
            kept_days=settings.webhook_kept_days,
            lease=lease,
            clock=clock,
        )
        self.outbox = Follower(
            OUTBOX,
            LocalFeedSource(
                lambda after, limit: application.read_feed(after, limit, SOURCE_TYPES),
                application.feed_signal,
            ),
            _WakingSink(SqlSink(engine, OUTBOX, Outbox(clock)), self.dispatcher.wake),
            long_poll_s=0.5,
            lease=lease,
        )

    def wake(self) -> None:
        self.dispatcher.wake()

    def subscribe(
        self, owner: str, body: SubscriptionIn, key: str | None, start_after: int
    ) -> tuple[str, bool]:
        """The subscription's id, and whether it was made now (False: made before with this
        Idempotency-Key and body). Two requests with one key racing: the second answers
        as the first did, through the unique key."""
        try:
            check_url(body.url, self.deny)
        except TargetRefused as exc:
            problem = FieldProblem("url", str(exc))
            raise InvalidInput("this URL cannot receive webhooks", [problem]) from None
        digest = canonical_sha256(body.model_dump(mode="json"))
        try:
            return self._subscribe(owner, body, key, start_after, digest)
        except IntegrityError:
            if key is None:
                raise
            return self._subscribe(owner, body, key, start_after, digest)

    def _subscribe(
        self, owner: str, body: SubscriptionIn, key: str | None, start_after: int, digest: str
    ) -> tuple[str, bool]:
        with self._engine.begin() as connection:
            earlier = store.by_key(connection, owner, key) if key is not None else None
            if earlier is not None:
                if earlier.request_digest != digest:
                    raise SubscriptionConflict(
                        "this Idempotency-Key was used with another subscription"
                    )
                return str(earlier.subscription_id), False
            if store.count_live(connection, owner) >= self.max_subscriptions:
                raise SubscriptionConflict(
                    f"you have {self.max_subscriptions} subscriptions, the most allowed; "
                    "delete one first"
                )
            subscription_id = str(uuid.uuid4())
            store.insert_subscription(
                connection,
                store.NewSubscription(
                    subscription_id=subscription_id,
                    owner=owner,
                    contract_id=body.contract_id,
                    url=body.url,
                    kinds=tuple(kind.value for kind in body.kinds),
                    sealed_secret=self.secrets.seal(subscription_id, body.secret),
                    description=body.description,
                    start_after=start_after,
                    now=dt.datetime.now(dt.UTC),
                    idempotency_key=key,
                    request_digest=digest,
                ),
            )
        return subscription_id, True

    def start(self) -> None:
        if self._enabled:
            self.outbox.start()
            self.dispatcher.start()

    def stop(self) -> None:
        self.dispatcher.stop()
        self.outbox.stop()
