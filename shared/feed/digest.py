"""Feed digests: a SHA-256 hash chain over a feed, so an auditor can prove history unchanged.

    digest_0 = SHA-256("outcomes-feed-digest-v1")
    digest_i = SHA-256(digest_{i-1} ‖ canonical JSON of entry i)

Entry i is the i-th entry of the feed in position order, as the feed serves it, less two
fields: ``position`` (PostgreSQL may skip numbers where a transaction rolled back, so the same
history can sit at other positions in another store) and ``recorded_at`` (a follower's store
rebuilt from its upstream records the same events again, later), and ``traceparent`` (the
trace of the work that recorded it: operational, not history). What is chained is what
happened and in which order: type, schema version, stream, stream version and data.

An auditor stores ``(upto, digest)``; later, the service's digest up to the same position must
be the same, or something before that position was changed, removed, added or reordered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared.feed.envelope import MAX_PAGE_SIZE, FeedEntry

ALGORITHM = "sha256-chain-v1"
GENESIS = hashlib.sha256(b"outcomes-feed-digest-v1").hexdigest()


def entry_text(entry: FeedEntry) -> bytes:
    chained = entry.model_dump(mode="json", exclude={"position", "recorded_at", "traceparent"})
    return json.dumps(chained, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def extend(digest: str, entries: Iterable[FeedEntry]) -> str:
    for entry in entries:
        digest = hashlib.sha256(bytes.fromhex(digest) + entry_text(entry)).hexdigest()
    return digest


@dataclass(frozen=True)
class Digest:
    upto: int
    entries: int
    digest: str
    algorithm: str = ALGORITHM


def digest_upto(read: Callable[[int, int], list[FeedEntry]], upto: int) -> Digest:
    """The digest of the feed up to a position, read from the store from the start every time
    (no cache: a row changed behind the service's back must show at once)."""
    current = Digest(0, 0, GENESIS)
    while current.upto < upto:
        page = [e for e in read(current.upto, MAX_PAGE_SIZE) if e.position <= upto]
        if not page:
            break
        current = Digest(
            page[-1].position, current.entries + len(page), extend(current.digest, page)
        )
    return current
