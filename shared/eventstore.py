"""The event store: configuration of the ``eventsourcing`` library and the base application.

Every service is an ``eventsourcing`` application over SQLite (the embedded default) or
PostgreSQL (production). The library keeps its default PostgreSQL insert mode (a table lock on
insert), so notification positions commit in order and a follower never skips one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Mapper,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)
from eventsourcing.utils import Environment
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from shared.errors import Busy
from shared.feed.envelope import STORE_ENVELOPE, EventCatalogue, FeedEntry, event_data
from shared.feed.signal import FeedSignal, Listener
from shared.feed.stored import entry_of
from shared.feed.stored import feed_entry as stored_feed_entry
from shared.pgstore import budget_s, deadline_connection, query_timeout_s
from shared.settings import (
    FEED_SIGNAL_ENV,
    connect_options,
)
from shared.storeurls import eventsourcing_env, is_postgres
from shared.streams import as_uuid, select_streams
from shared.tracing import TRACE_KEY, TracingMapper

CONFLICT_ATTEMPTS = 12
CONFLICT_BUDGET_S = 3.0
A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")


class LeanEntry(NamedTuple):
    """A feed entry for in-process replays: what a model of the feed reads, nothing more."""

    position: int
    type: str
    stream_id: str
    data: dict[str, Any]
    recorded_at: dt.datetime


class WriteContention(Busy):
    """Concurrent writers kept changing the same aggregates for longer than the budget."""


def retrying(command: Callable[[], T]) -> T:
    """Run a command again when a concurrent writer changed one of its aggregates first, after
    a jittered, growing pause (so contenders spread out instead of colliding again), within
    ``CONFLICT_ATTEMPTS`` attempts and ``CONFLICT_BUDGET_S`` seconds; past that, a 503 with
    ``Retry-After``, never a 500."""
    try:
        for attempt in Retrying(
            retry=retry_if_exception_type(IntegrityError),
            stop=stop_after_attempt(CONFLICT_ATTEMPTS) | stop_after_delay(CONFLICT_BUDGET_S),
            wait=wait_random_exponential(multiplier=0.01, max=0.25),
            reraise=True,
        ):
            with attempt:
                return command()
    except IntegrityError:
        raise WriteContention(
            "other writes to the same records kept coming first; retry shortly"
        ) from None
    raise AssertionError("unreachable: tenacity returns or raises")


class Collected(ProcessingEvent[UUID]):
    """The library's processing event, but an aggregate of the library's own base class gives
    up its events without the two runtime-protocol ``isinstance`` checks the library makes of
    every object saved (about 20 µs each; a fifth of a large batch's saving time)."""

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        others = []
        for obj in objs:
            if isinstance(obj, Aggregate):  # a concrete class: an ordinary, fast check
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            elif obj is not None:
                others.append(obj)
        super().collect_events(*others, **kwargs)


class OutcomesApplication(Application[UUID]):
    """Base of the three services' applications: a process recorder, a public feed."""

    catalogue: ClassVar[EventCatalogue]
    # on PostgreSQL, a connection of its own LISTENs for other replicas' recordings once its
    # feed is long-polled (shared/feed/signal.py); a service whose feed is rarely long-polled
    # sets it False (its long-polls read every 50 ms) and keeps within its connection budget
    listens: ClassVar[bool] = True

    def __init__(self, database_url: str, extra_env: Mapping[str, str] | None = None) -> None:
        env = eventsourcing_env(database_url)
        env.update(extra_env or {})
        super().__init__(env=env)
        self.database_url = database_url
        for event_class in self.catalogue.classes():
            self.catalogue.register_topic(_topic_of(event_class), event_class)
        listens = is_postgres(database_url) and self.listens
        signalled = env.get(FEED_SIGNAL_ENV, "true") == "true"
        self.feed_signal = FeedSignal(self._listener if listens else None) if signalled else None

    def _listener(self, signal: FeedSignal) -> Listener:
        """``LISTEN`` for the library's ``NOTIFY`` on each insert into this store's events."""
        recorder: Any = self.recorder
        dsn = "postgresql://" + self.database_url.split("://", 1)[1]
        return Listener(dsn, recorder.channel_name, signal)

    def _record(self, processing_event: Any) -> Any:
        """The library's, then the feed's long-polls woken (shared/feed/signal.py)."""
        recordings = super()._record(processing_event)
        if self.feed_signal is not None:
            self.feed_signal.notify()
        return recordings

    def close(self) -> None:
        if self.feed_signal is not None:
            self.feed_signal.close()
        super().close()

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        """The library's factory, with TCP keepalives and a user timeout on every PostgreSQL
        connection its pool will open, so a connection whose network froze fails within about
        the connect timeout instead of hanging for the kernel's retransmission time, and a
        deadline on every answer (:class:`shared.pgstore.DeadlineConnection`)."""
        factory = super().construct_factory(env)
        datastore = getattr(factory, "datastore", None)
        pool = getattr(datastore, "pool", None)
        options = getattr(pool, "kwargs", None)
        if isinstance(options, dict):  # PostgreSQL's psycopg pool (SQLite's has none)
            options.update(connect_options(budget_s()))
            pool.connection_class = deadline_connection(query_timeout_s())  # type: ignore[union-attr]
        return factory

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper, recording each event's trace (shared/tracing.py)."""
        return self.factory.mapper(self.construct_transcoder(), TracingMapper)

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    def load(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate with this id if it exists and is of this kind, else ``None``."""
        try:
            loaded: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return loaded if isinstance(loaded, kind) else None

    def load_many(
        self, aggregate_ids: Collection[UUID], kind: type[A], upto: dt.datetime | None = None
    ) -> dict[UUID, A]:
        """The aggregates among these ids that exist and are of this kind, read with one query
        per 500 ids instead of one each (for kinds never snapshotted); with ``upto``,
        each as its events recorded by then left it (those with none by then are left out)."""
        intervals = self.snapshotting_intervals or {}
        assert self.snapshots is None or kind not in intervals, "load_many reads no snapshots"
        stored: dict[UUID, list[StoredEvent]] = {}
        for row in select_streams(
            self.recorder,
            self.database_url,
            aggregate_ids,
            "originator_id, originator_version, topic, state",
        ):
            originator_id = as_uuid(row[0])
            stored.setdefault(originator_id, []).append(
                StoredEvent(originator_id, int(row[1]), str(row[2]), bytes(row[3]))
            )
        found: dict[UUID, A] = {}
        for aggregate_id, rows in stored.items():
            events = (self.mapper.to_domain_event(r) for r in rows)
            if upto is not None:
                events = (e for e in events if _recorded_at(e) <= upto)
            aggregate = _projected(events)
            if isinstance(aggregate, kind):
                found[aggregate_id] = aggregate
        return found

    def has_newer(self, aggregate_id: UUID, version: int) -> bool:
        """Whether the store holds a version of this aggregate after ``version`` (one indexed
        query: how a kept copy is checked before it is reused)."""
        return bool(self.recorder.select_events(aggregate_id, gt=version, limit=1))

    def existing(self, aggregate_ids: Collection[UUID]) -> set[UUID]:
        """Which of these ids have any stored event: one query per 500 ids."""
        return {
            as_uuid(row[0])
            for row in select_streams(self.recorder, self.database_url, aggregate_ids, None)
        }

    # ---- the feed ------------------------------------------------------------------------
    def read_feed(
        self, after: int, limit: int, types: Collection[str] | None = None
    ) -> list[FeedEntry]:
        """Entries after a position; ``types`` (public names) keeps only those, in the store."""
        topics = self.catalogue.topics()
        if types is not None:
            topics = [t for t in topics if self._public_name(t) in types]
        if not topics:
            return []
        notifications = self.recorder.select_notifications(
            start=after,
            limit=limit,
            topics=topics,
            inclusive_of_start=False,
        )
        return [self.to_feed_entry(n) for n in notifications]

    def read_lean(self, after: int, limit: int, types: Collection[str]) -> list[LeanEntry]:
        """Like :meth:`read_feed` for in-process replays: the event's own fields as stored
        (no conversion to plain JSON, no envelope model), for speed. Not for publishing."""
        topics = [t for t in self.catalogue.topics() if self._public_name(t) in types]
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, topics=topics, inclusive_of_start=False
        )
        found = []
        for notification in notifications:
            domain_event: Any = self.mapper.to_domain_event(notification)
            data = {k: v for k, v in vars(domain_event).items() if k not in STORE_ENVELOPE}
            name = self._public_name(notification.topic)
            found.append(
                LeanEntry(
                    notification.id,
                    name,
                    str(domain_event.originator_id),
                    data,
                    domain_event.timestamp,
                )
            )
        return found

    def public_types(self) -> set[str]:
        """The names of the entry types this feed publishes."""
        return {self._public_name(t) for t in self.catalogue.topics()}

    def _public_name(self, topic: str) -> str:
        public = self.catalogue.public_type(topic)
        assert public is not None, topic
        return public.name

    def to_feed_entry(self, notification: Notification) -> FeedEntry:
        """A stored event as the feed publishes it, read from its stored JSON
        (:mod:`shared.feed.stored`) where it can be, else by way of its domain event."""
        public = self.catalogue.public_type(notification.topic)
        assert public is not None, notification.topic
        found = stored_feed_entry(notification, public, self.mapper)
        return found if found is not None else self.decoded_feed_entry(notification)

    def decoded_feed_entry(self, notification: Notification) -> FeedEntry:
        """A stored event as the feed publishes it, by way of its domain event."""
        public = self.catalogue.public_type(notification.topic)
        assert public is not None, notification.topic
        domain_event: Any = self.mapper.to_domain_event(notification)
        return entry_of(
            notification,
            public,
            domain_event.timestamp,
            event_data(domain_event),
            vars(domain_event).get(TRACE_KEY),
        )

    def head_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def stream_history(self, stream_id: UUID) -> list[FeedEntry]:
        """Every public event of one stream, oldest first, as the feed shows it (positions too)."""
        found = []
        recorded: list[Any] = list(self.events.get(stream_id))
        for domain_event in recorded:
            public = self.catalogue.public_type(_topic_of(type(domain_event)))
            if public is None:
                continue
            position = self.position_of(stream_id, domain_event.originator_version)
            found.append(
                FeedEntry(
                    position=position or 0,
                    type=public.name,
                    schema_version=public.schema_version,
                    stream_id=str(stream_id),
                    stream_version=domain_event.originator_version,
                    recorded_at=domain_event.timestamp,
                    data=event_data(domain_event),
                )
            )
        return found

    # ---- tracked saves (followers) ---------------------------------------------------------
    def tracked_position(self, upstream: str) -> int:
        return self.process_recorder.max_tracking_id(upstream) or 0

    def save_tracked(self, aggregates: Sequence[Any], upstream: str, position: int) -> None:
        """Save the aggregates' new events and the upstream position in one transaction."""
        processing_event = Collected(Tracking(upstream, position))
        processing_event.collect_events(*aggregates)
        self._record(processing_event)
        self._take_snapshots(processing_event)

    def _take_snapshots(self, processing_event: Any) -> None:
        """A snapshot of each aggregate just saved that crossed its snapshot interval, taken
        from the aggregate in hand. The library's reloads it first (its last snapshot decoded
        and every event since replayed), which for a ledger's book cost as much again as the
        snapshot and a transient copy of the whole book each time (issue 20, point 7's peak
        memory). The aggregate in hand is at the version just recorded, with nothing pending,
        so the snapshot is of exactly what is stored, at that version."""
        if not (self.snapshots and self.snapshotting_intervals):
            return
        due: dict[UUID, Any] = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval is not None and event.originator_version % interval == 0:
                due[aggregate.id] = aggregate
        for aggregate in due.values():
            snapshot_class = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
            assert snapshot_class is not None and not aggregate.pending_events
            self.snapshots.put([snapshot_class.take(aggregate)])

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """The library's ``save``, collecting events as :class:`Collected` does."""
        processing_event = Collected()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    # ---- positions of recorded events --------------------------------------------------------
    def position_of(self, stream_id: UUID, stream_version: int) -> int | None:
        """The feed position of one recorded event (used to answer idempotent retries)."""
        recorder: Any = self.recorder
        table = recorder.events_table_name
        if is_postgres(self.database_url):
            schema = recorder.datastore.schema
            statement = (
                f'SELECT notification_id FROM "{schema}"."{table}" '  # noqa: S608
                "WHERE originator_id = %s AND originator_version = %s"
            )
            params: tuple[Any, ...] = (stream_id, stream_version)
        else:
            statement = (
                f"SELECT rowid FROM {table} "  # noqa: S608
                "WHERE originator_id = ? AND originator_version = ?"
            )
            params = (stream_id.hex, stream_version)
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            row = cursor.fetchone()
        if row is None:
            return None
        return int(row[0] if not isinstance(row, Mapping) else next(iter(row.values())))


def _topic_of(event_class: type) -> str:
    from eventsourcing.utils import get_topic

    return get_topic(event_class)


def _recorded_at(event: Any) -> dt.datetime:
    """When a stored domain event was recorded (every aggregate event carries its time)."""
    timestamp: dt.datetime = event.timestamp
    return timestamp


def _projected(events: Iterable[Any]) -> Any:
    """Each event applied to what the ones before made, as the library's projector does, but
    without its per-event check against a runtime protocol (a fifth of the time of re-deriving
    a batch of participants, in a profile); the events come from this store's own mapper."""
    aggregate = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate
