"""Rebuild the metrics read models from scratch: empty them, then replay the claims and ledger
feeds from position 0, with a progress bar.

Run it with the metrics service stopped (or with ``METRICS_FOLLOW=false``): a live follower
racing the rebuild cannot double an effect (each page's position guard rolls the loser back),
but it wastes the work of both.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.metrics.application import CLAIMS_UPSTREAM, LEDGER_UPSTREAM
from services.metrics.following import upstreams
from services.metrics.readmodels import tables
from shared.feed.follower import HttpFeedSource
from shared.feed.replay import replay
from shared.progress import Progress
from shared.sqlviews import feed_positions

READ_MODELS = (
    tables.snapshot_cube,
    tables.snapshots,
    tables.cube,
    tables.participant_cube,
    tables.events,
    tables.participants,
    tables.rulebooks,
    tables.money,
    tables.money_totals,
    tables.outcome_money,
    tables.claim_outcomes,
    tables.books,
    tables.rejections,
)


@dataclass(frozen=True)
class RebuildResult:
    claims_entries: int
    ledger_entries: int


def reset(engine: Engine) -> None:
    """Empty every read model and forget every feed position, in one transaction."""
    with engine.begin() as connection:
        for table in READ_MODELS:
            connection.execute(sa.delete(table))
        connection.execute(
            sa.delete(feed_positions).where(
                feed_positions.c.upstream.in_([upstream.name for upstream in upstreams()])
            )
        )


def rebuild(engine: Engine, sources: dict[str, HttpFeedSource]) -> RebuildResult:
    """``sources``: a reader of each upstream's feed (see :func:`upstreams`), by name."""
    reset(engine)
    applied = {
        upstream.name: replay(
            engine,
            sources[upstream.name],
            upstream.name,
            upstream.handler,
            Progress(f"{upstream.name} feed"),
        )
        for upstream in upstreams()
    }
    return RebuildResult(applied[CLAIMS_UPSTREAM], applied[LEDGER_UPSTREAM])
