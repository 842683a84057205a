"""Snapshots of the cube at hour starts: an "as known at" cube read from a full copy, the day
and hour changes after it and the change since the last hour start equals the cube rebuilt
from every event known then, at every moment asked.

The history of tests/metrics/test_reports.py is recorded by the claims service in five steps,
and its feed entries are given recorded times spread over five weeks (a first batch on 28
January; a second batch, a late referral and a correction late on 3 February, so the next day
change must carry its last hour; a retraction in the last hour of February, so the next full
copy must carry it; an amendment with a new KPI on 2 March; another correction on 3 March).
The projector follows that feed a few entries per page, so it stores the hour-start boundaries
as it passes them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection, Engine

from services.claims.application import ClaimsApplication
from services.claims.commands import IncomingEvent
from services.metrics.facts import DEFAULT_WAITS, plan_for
from services.metrics.readmodels import snapshots as snapshots_module
from services.metrics.readmodels.cube import (
    DIMENSIONS,
    Filters,
    MemoryCube,
    changed_streams,
    counts_known_at,
)
from services.metrics.readmodels.performance import PerformanceProjector
from services.metrics.readmodels.snapshots import (
    DAY_CHANGE,
    FULL,
    HOUR_CHANGE,
    MARGIN,
    SnapshotCube,
    cube_known_at,
    due_boundary,
    take_due_boundaries,
    version_known_at,
)
from services.metrics.readmodels.tables import snapshot_cube, snapshots
from shared.feed.envelope import FeedEntry
from shared.rules.model import RuleBook, parse_rulebook
from shared.sqlviews import SqlSink, aware
from tests.claims.helpers import NOW, claims_app
from tests.metrics.test_reports import CONTRACT, PEOPLE, RULEBOOK, day, events_of
from tests.stores import migrated_engine

assert DEFAULT_WAITS  # the plan's defaults are part of what the shares hold

STEP_TIMES = [
    dt.datetime(2026, 1, 28, 12, tzinfo=dt.UTC),
    dt.datetime(2026, 2, 3, 23, 15, tzinfo=dt.UTC),  # in a day's last hour
    dt.datetime(2026, 2, 28, 23, 30, tzinfo=dt.UTC),  # in a month's last hour
    dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC),  # the amendment
    dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
]
MONTH_STARTS = [dt.datetime(2026, month, 1, tzinfo=dt.UTC) for month in (2, 3)]
MICROSECOND = dt.timedelta(microseconds=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
FIRST = dt.datetime(2026, 1, 28, 13, tzinfo=dt.UTC)  # the first hour start after the contract
AMENDED = dt.datetime(2026, 3, 2, 11, tzinfo=dt.UTC)  # the first hour start after the amendment
LAST = dt.datetime(2026, 3, 3, 14, tzinfo=dt.UTC)  # the last an hour before the last entry
AMENDED_FROM = (NOW + dt.timedelta(days=7)).date().isoformat()  # as soon as claims allows


def record_history(claims: ClaimsApplication) -> list[list[FeedEntry]]:
    """The five steps, each as the feed entries it wrote."""
    document = yaml.safe_load(RULEBOOK.read_text())
    steps: list[list[FeedEntry]] = []
    position = 0

    def step() -> None:
        nonlocal position
        entries = claims.read_feed(position, 10_000)
        steps.append(entries)
        position = entries[-1].position

    people = list(PEOPLE.items())
    claims.contracts.register(parse_rulebook(document))
    for ref, (provider, site, ltu, dates) in people[:4]:
        claims.intake.record_events(
            CONTRACT, provider, events_of(ref, site, ltu, dates), f"provider:{provider}"
        )
    step()
    for ref, (provider, site, ltu, dates) in people[4:]:
        claims.intake.record_events(
            CONTRACT, provider, events_of(ref, site, ltu, dates), f"provider:{provider}"
        )
    late = events_of("A4", "north", False, ["01-25", "01-30", None, None])
    claims.intake.record_events(CONTRACT, "alpha", late, "provider:alpha")
    corrected = IncomingEvent("A2-job_start", "A2", "job_start", day("02-27"), {})
    claims.corrections.correct_event(CONTRACT, "alpha", corrected, "provider:alpha", "x")
    step()
    claims.corrections.retract_event(
        CONTRACT, "beta", "B2-enrollment", "provider:beta", "entered twice"
    )
    step()
    kpi = {**document["kpis"][0], "id": "enrolled_within_7_days", "within_days": 7}
    claims.contracts.register(
        parse_rulebook(
            {**document, "effective_from": AMENDED_FROM, "kpis": [*document["kpis"], kpi]}
        )
    )
    step()
    again = IncomingEvent("A3-job_start", "A3", "job_start", day("03-04"), {})
    claims.corrections.correct_event(CONTRACT, "alpha", again, "provider:alpha", "late payslip")
    step()
    return steps


def retimed(steps: list[list[FeedEntry]]) -> list[FeedEntry]:
    """Every entry of step k recorded at STEP_TIMES[k] (a microsecond apart, in feed order)."""
    return [
        entry.model_copy(update={"recorded_at": at + index * MICROSECOND})
        for entries, at in zip(steps, STEP_TIMES, strict=True)
        for index, entry in enumerate(entries)
    ]


@pytest.fixture
def followed(
    urls: dict[str, str],
) -> Iterator[tuple[Engine, PerformanceProjector, list[FeedEntry]]]:
    claims = claims_app(urls["claims"])
    try:
        feed = retimed(record_history(claims))
    finally:
        claims.close()
    with migrated_engine(urls["metrics"], "metrics") as engine:
        yield engine, PerformanceProjector(), feed


def follow(engine: Engine, projector: PerformanceProjector, feed: list[FeedEntry]) -> None:
    sink = SqlSink(engine, "claims", projector)
    for start in range(0, len(feed), 3):
        sink.apply(feed[start : start + 3])


def full(connection: Connection, contract_rulebook: RuleBook, at: dt.datetime) -> MemoryCube:
    return MemoryCube(counts_known_at(connection, plan_for(contract_rulebook), CONTRACT, at))


def rulebook_known_at(connection: Connection, at: dt.datetime) -> tuple[RuleBook, int]:
    version = version_known_at(connection, CONTRACT, at)
    assert version is not None
    document = connection.execute(
        sa.text("SELECT document FROM mx_rulebooks WHERE contract_id = :c AND version = :v"),
        {"c": CONTRACT, "v": version},
    ).scalar_one()
    return RuleBook.model_validate_json(document), version


def everything(reader: Any, measures: set[str]) -> dict[tuple[str, str | None], Any]:
    return {
        (measure, provider): reader.totals(Filters(provider), measure, DIMENSIONS)
        for measure in measures
        for provider in (None, "alpha")
    }


def stored_rows(connection: Connection, at: dt.datetime) -> dict[tuple[str, ...], int]:
    columns = [snapshot_cube.c[name] for name in ("measure", *DIMENSIONS, "k1", "k2")]
    query = sa.select(*columns, snapshot_cube.c.n).where(snapshot_cube.c.known_at == at)
    return {tuple(row[:-1]): row[-1] for row in connection.execute(query)}


def rebuilt_rows(connection: Connection, at: dt.datetime) -> Counter[tuple[str, ...]]:
    rulebook, _ = rulebook_known_at(connection, at)
    rebuilt = counts_known_at(connection, plan_for(rulebook), CONTRACT, at)
    return Counter({tuple(key): n for key, n in rebuilt.items()})


def drain(engine: Engine, projector: PerformanceProjector) -> None:
    """Later pages (a quiet feed still moves on): every boundary due by the last entry."""
    latest = STEP_TIMES[-1]
    while True:
        with engine.begin() as connection:
            if not take_due_boundaries(connection, projector.plan_of, latest, projector.hours_kept):
                return


def expected_kind(hour: dt.datetime) -> str:
    if hour in (FIRST, AMENDED):
        return FULL  # the first of each version, rebuilt
    if hour.hour != 0:
        return HOUR_CHANGE
    if hour.day == 1 or hour - DAY < max(h for h in (FIRST, AMENDED) if h < hour):
        return FULL  # a month start, or a day start after a full copy that was not one
    return DAY_CHANGE


def test_the_projector_stores_a_boundary_at_each_hour_start_it_passes(
    followed: tuple[Engine, PerformanceProjector, list[FeedEntry]],
) -> None:
    engine, projector, feed = followed
    follow(engine, projector, feed)
    drain(engine, projector)
    hours = [FIRST + n * HOUR for n in range(int((LAST - FIRST) / HOUR) + 1)]
    with engine.connect() as connection:
        taken = [
            (aware(row[0]), row[1], row[2])
            for row in connection.execute(
                sa.select(
                    snapshots.c.known_at, snapshots.c.rulebook_version, snapshots.c.kind
                ).order_by(snapshots.c.known_at)
            )
        ]
        assert taken == [(h, 1 if h < AMENDED else 2, expected_kind(h)) for h in hours]
        assert {kind for _, _, kind in taken} == {FULL, DAY_CHANGE, HOUR_CHANGE}
        checked = 0
        for at, _, kind in taken:  # each holds the cube as known then, or its change
            before = at - (DAY if kind == DAY_CHANGE else HOUR)
            if kind == HOUR_CHANGE and not changed_streams(connection, CONTRACT, before, at):
                assert stored_rows(connection, at) == {}, at  # a quiet hour changes nothing
                continue
            expected = rebuilt_rows(connection, at)
            if kind != FULL:
                expected.subtract(rebuilt_rows(connection, before))
            assert stored_rows(connection, at) == {k: n for k, n in expected.items() if n}, at
            checked += 1
        assert checked == 34 + 2  # the day starts and the first of each version
        assert all(stored_rows(connection, at) for at in (*MONTH_STARTS, AMENDED))


def test_a_boundary_is_due_only_once_the_feed_is_a_margin_past_the_hour_start(
    followed: tuple[Engine, PerformanceProjector, list[FeedEntry]],
) -> None:
    engine, projector, feed = followed
    first_step = [entry for entry in feed if entry.recorded_at < STEP_TIMES[1]]
    follow(engine, projector, first_step)
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(snapshots)).scalar() == 0
        assert due_boundary(connection, FIRST + MARGIN - MICROSECOND) is None
        assert due_boundary(connection, FIRST + MARGIN) == FIRST
    with engine.begin() as connection:  # a page far ahead takes at most a week of them
        taken = take_due_boundaries(connection, projector.plan_of, MONTH_STARTS[1] + MARGIN)
        assert [b.known_at for b in taken] == [FIRST + n * HOUR for n in range(168)]


@pytest.mark.parametrize("hours_kept", [snapshots_module.HOURS_KEPT, dt.timedelta(days=2)])
def test_as_known_at_from_the_boundaries_is_the_full_rebuild_at_every_moment(
    followed: tuple[Engine, PerformanceProjector, list[FeedEntry]],
    hours_kept: dt.timedelta,
) -> None:
    """With hour changes kept two days only (the projector's setting), older moments read day
    changes and recompute the participants changed since the day start: slower, the same
    answers."""
    engine, projector, feed = followed
    projector.hours_kept = hours_kept
    follow(engine, projector, feed)
    drain(engine, projector)
    with engine.connect() as connection:
        oldest_hour = connection.execute(
            sa.select(sa.func.min(snapshots.c.known_at)).where(snapshots.c.kind == HOUR_CHANGE)
        ).scalar()
    last_day_start = LAST.replace(hour=0)
    assert aware(oldest_hour) == max(FIRST, last_day_start - hours_kept) + HOUR
    moments = sorted(
        at
        for at in {
            *(at + shift for at in STEP_TIMES for shift in (-MICROSECOND, dt.timedelta(0))),
            *(e.recorded_at for e in feed),  # between any two entries of a step
            *(e.recorded_at + HOUR for e in feed),  # an hour later (within the next hour)
            *(start + shift for start in MONTH_STARTS for shift in (dt.timedelta(0), MARGIN)),
            *(FIRST + n * DAY + dt.timedelta(hours=h) for n in range(36) for h in (0, 11, 23)),
            dt.datetime(2026, 6, 30, tzinfo=dt.UTC),
        }
        if at >= STEP_TIMES[0]  # the contract is known from then
    )
    used = []
    with engine.connect() as connection:
        measures = set(
            connection.execute(sa.text("SELECT DISTINCT measure FROM mx_cube")).scalars()
        )
        for at in moments:
            rulebook, version = rulebook_known_at(connection, at)
            reader = cube_known_at(connection, plan_for(rulebook), version, CONTRACT, at)
            if isinstance(reader, SnapshotCube):
                used.append((at, reader.boundaries))
            expected = everything(full(connection, rulebook, at), measures)
            assert everything(reader, measures) == expected, at
    # every moment from the first hour start used the boundaries, except between the amendment
    # and the next hour start (version 2 has no full copy before it)
    unused = [at for at in moments if at >= FIRST and at not in dict(used)]
    assert unused and all(STEP_TIMES[3] <= at < AMENDED for at in unused)
    assert max(boundaries for _, boundaries in used) <= 1 + 30 + 23  # days of a month, hours
