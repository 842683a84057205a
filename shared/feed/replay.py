"""Replay a feed from a sink's position to the end, with a progress bar (rebuilds, audits)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from shared.feed.envelope import MAX_PAGE_SIZE
from shared.feed.follower import HttpFeedSource
from shared.progress import Progress
from shared.sqlviews import Handler, SqlSink


def replay(
    engine: Engine, source: HttpFeedSource, upstream: str, handle: Handler, progress: Progress
) -> int:
    """Apply a feed from the sink's position to the end; returns how many entries it applied."""
    sink = SqlSink(engine, upstream, handle)
    applied = 0
    while True:
        page = source.read_page(sink.position(), MAX_PAGE_SIZE)
        if not page.items:
            break
        sink.apply(page.items)
        applied += len(page.items)
        progress.update(page.items[-1].position, page.head_position, applied)
    progress.finish()
    return applied
