"""For random histories with late events, corrections, retractions and an amendment, the cube
kept by contribution deltas equals, after every feed entry, the cube of an independent model of
the history (the latest body of each live event); and the state as known at each step is
reproduced later from the bitemporal rows."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.metrics.facts import (
    CubeKey,
    LiveEvent,
    contributions,
    participant_facts,
    plan_for,
)
from services.metrics.readmodels.cube import counts_known_at
from services.metrics.readmodels.performance import PerformanceProjector
from services.metrics.readmodels.tables import cube, rulebooks
from services.metrics.rebuild import READ_MODELS, reset
from shared.feed.envelope import FeedEntry
from shared.rules.model import parse_rulebook
from shared.sqlviews import SqlSink, create_engine, migrate

RULEBOOK = Path(__file__).parent / "reports-demo.yaml"
MIGRATIONS = Path(__file__).parents[2] / "services" / "metrics" / "migrations"
CONTRACT = "reports-demo"
STAGES = ("referral", "enrollment", "job_start", "job_sustained")
T0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)

step = st.tuples(
    st.sampled_from(["record", "record", "record", "correct", "retract"]),
    st.integers(0, 3),  # participant
    st.sampled_from(STAGES),
    st.integers(0, 120),  # day offset
    st.sampled_from(["north", "south"]),
    st.booleans(),
)


class Feed:
    def __init__(self) -> None:
        self.position = 0
        self.entries: list[FeedEntry] = []

    def add(self, type_: str, stream: str, data: dict[str, Any]) -> None:
        self.position += 1
        self.entries.append(
            FeedEntry(
                position=self.position,
                type=type_,
                schema_version=1,
                stream_id=stream,
                stream_version=self.position,
                recorded_at=T0 + dt.timedelta(minutes=self.position),
                data=data,
            )
        )


def history(steps: list[tuple[Any, ...]], amend_at: int) -> Feed:
    source = yaml.safe_load(RULEBOOK.read_text())
    source["kpis"] += [  # the kinds judged on every start or end event, not the first of each
        {"id": "each_referral", "name": "Each referral enrolled in 14 days", "start": "referral",
         "end": "enrollment", "within_days": 14, "each_start": True},
        {"id": "two_steps", "name": "Two steps in 60 days", "start": "referral",
         "end": "job_start", "within_days": 60, "count": 2},
        {"id": "monthly_enrolment", "name": "An enrolment a month", "start": "referral",
         "end": "enrollment", "within_days": 0, "rate": 1},
    ]  # fmt: skip
    document = parse_rulebook(source).canonical()
    feed = Feed()
    digest = "0" * 64  # not checked by metrics
    registered = {"contract_id": CONTRACT, "rulebook": document, "document_sha256": digest}
    feed.add("contract.registered", "c", registered)
    recorded: dict[str, set[str]] = {}
    for index, (action, person, stage, offset, site, flag) in enumerate(steps):
        if index == amend_at:
            amended = {**document, "kpis": []}
            feed.add(
                "contract.amended",
                "c",
                {"version": 2, "rulebook": amended, "document_sha256": digest},
            )
        stream = f"s{person}"
        if stream not in recorded:
            recorded[stream] = set()
            provider = "alpha" if person % 2 else "beta"
            feed.add(
                "participant.registered",
                stream,
                {
                    "contract_id": CONTRACT,
                    "provider_id": provider,
                    "participant_id": stream,
                    "subject": "participant",
                },
            )
        event_id = f"{stream}-{stage}"
        known = event_id in recorded[stream]
        body = {
            "event_id": event_id,
            "type": stage,
            "occurred_on": (dt.date(2026, 1, 1) + dt.timedelta(days=offset)).isoformat(),
            "attributes": {"site": site, "long_term_unemployed": flag}
            if stage == "referral"
            else {},
            "body_sha256": digest,
            "actor": "provider:p",
        }
        if action == "record" and not known:
            feed.add("participant.event_recorded", stream, body)
            recorded[stream].add(event_id)
        elif action == "correct" and known:
            feed.add("participant.event_corrected", stream, {**body, "reason": "fix"})
        elif action == "retract" and known:
            retraction = {"event_id": event_id, "actor": "provider:p", "reason": "fix"}
            feed.add("participant.event_retracted", stream, retraction)
            recorded[stream].discard(event_id)
    return feed


class Model:
    """The history as a plain reader of the feed sees it: the latest body of each live event."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {}
        self.providers: dict[str, str] = {}
        self.events: dict[str, dict[str, LiveEvent]] = {}

    def apply(self, entry: FeedEntry) -> None:
        data = entry.data
        if entry.type in ("contract.registered", "contract.amended"):
            self.document = data["rulebook"]
        elif entry.type == "participant.registered":
            self.providers[entry.stream_id] = data["provider_id"]
            self.events[entry.stream_id] = {}
        elif entry.type in ("participant.event_recorded", "participant.event_corrected"):
            day = dt.date.fromisoformat(data["occurred_on"])
            event = LiveEvent(data["type"], day, data["attributes"])
            self.events[entry.stream_id][data["event_id"]] = event
        elif entry.type == "participant.event_retracted":
            del self.events[entry.stream_id][data["event_id"]]

    def cube(self) -> Counter[CubeKey]:
        plan = plan_for(parse_rulebook(self.document))
        total: Counter[CubeKey] = Counter()
        for stream, events in self.events.items():
            facts = participant_facts(plan, self.providers[stream], list(events.values()))
            total.update(contributions(plan, facts))
        return +total


def live_cube(connection: sa.Connection) -> Counter[CubeKey]:
    rows = connection.execute(sa.select(cube).where(cube.c.contract_id == CONTRACT)).all()
    return Counter({CubeKey(*row[1:8]): row[8] for row in rows if row[8]})


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    folder = tmp_path_factory.mktemp("cube")
    engine = create_engine(f"sqlite:///{folder / 'metrics.sqlite'}")
    migrate(engine, MIGRATIONS, "alembic_version_metrics")
    yield engine
    engine.dispose()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(step, min_size=1, max_size=25), amend_at=st.integers(0, 30))
def test_the_kept_cube_is_the_recomputed_cube_at_every_step(
    engine: sa.Engine, steps: list[tuple[Any, ...]], amend_at: int
) -> None:
    reset(engine)
    sink = SqlSink(engine, "claims", PerformanceProjector().apply)
    snapshots = []
    model = Model()
    for entry in history(steps, amend_at).entries:
        sink.apply([entry])
        model.apply(entry)
        with engine.connect() as connection:
            kept = live_cube(connection)
        assert kept == model.cube(), entry
        snapshots.append((entry.recorded_at, kept))
    with engine.connect() as connection:
        for known_at, kept in snapshots:
            document = connection.execute(
                sa.select(rulebooks.c.document)
                .where(rulebooks.c.recorded_at <= known_at)
                .order_by(rulebooks.c.version.desc())
                .limit(1)
            ).scalar_one()
            plan = plan_for(parse_rulebook(json.loads(document)))
            recomputed = counts_known_at(connection, plan, CONTRACT, known_at)
            assert +recomputed == kept, known_at


def read_models(connection: sa.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table.name: sorted(tuple(map(str, row)) for row in connection.execute(sa.select(table)))
        for table in READ_MODELS
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(step, min_size=1, max_size=30),
    amend_at=st.integers(0, 35),
    cuts=st.lists(st.integers(1, 40), max_size=6),
)
@example(  # a stored event corrected twice in one page, then seen with a cut before
    steps=[("record", 0, "referral", 5, "north", True), ("correct", 0, "referral", 6, "north",
           True), ("correct", 0, "referral", 7, "south", False)],
    amend_at=99,
    cuts=[3],
)  # fmt: skip
def test_pages_of_any_size_leave_the_same_read_models_as_single_entries(
    engine: sa.Engine, steps: list[tuple[Any, ...]], amend_at: int, cuts: list[int]
) -> None:
    """A page is applied in bulk (one recomputation per participant, at the page's end, or
    before an amendment); whatever the page boundaries, every read model ends the same as when
    the entries are applied one at a time, and the cube equals the independent model's."""
    entries = history(steps, amend_at).entries
    model = Model()
    for entry in entries:
        model.apply(entry)
    reset(engine)
    single = SqlSink(engine, "claims", PerformanceProjector())
    for entry in entries:
        single.apply([entry])
    with engine.connect() as connection:
        one_by_one = read_models(connection)
        assert live_cube(connection) == model.cube()
    reset(engine)
    paged = SqlSink(engine, "claims", PerformanceProjector())
    bounds = sorted({0, len(entries), *(c for c in cuts if c < len(entries))})
    for start, end in itertools.pairwise(bounds):
        paged.apply(entries[start:end])
    with engine.connect() as connection:
        assert read_models(connection) == one_by_one
        assert live_cube(connection) == model.cube()
