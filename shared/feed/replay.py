"""Replay a feed from a sink's position to the end, with a progress bar (rebuilds, audits)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from shared.feed.envelope import MAX_PAGE_SIZE
from shared.feed.follower import FeedSink, HttpFeedSource
from shared.progress import Progress
from shared.sqlviews import Handler, SqlSink


def replay(
    engine: Engine, source: HttpFeedSource, upstream: str, handle: Handler, progress: Progress
) -> int:
    """Apply a feed from the sink's position to the end; returns how many entries it applied."""
    return drain(source, SqlSink(engine, upstream, handle), progress)


def drain(source: HttpFeedSource, sink: FeedSink, progress: Progress | None = None) -> int:
    """Apply pages from ``sink``'s position until one is empty; returns the entries applied."""
    applied = 0
    while True:
        page = source.read_page(sink.position(), MAX_PAGE_SIZE)
        if not page.items:
            break
        sink.apply(page.items)
        applied += len(page.items)
        if progress is not None:
            progress.update(page.items[-1].position, page.head_position, applied)
    if progress is not None:
        progress.finish()
    return applied
