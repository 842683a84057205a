"""Readiness (``GET /readyz``): may this replica take traffic?

It is ready when its database answers within ``OUTCOMES_READY_TIMEOUT_S`` (default 2 s), its
read models' migrations are at the head this code expects, and each follower it runs is
either active and less than ``OUTCOMES_READY_MAX_LAG_S`` (default 60 s) behind its upstream or
standing by behind a replica that is (see :class:`shared.feed.follower.FollowerHealth`).
Liveness is ``/healthz``: the process answers, whatever its database does.

The database is asked on one thread of its own, one question at a time: checks that arrive
while a question is in flight share its answer, and once it has gone unanswered for the whole
bound (a silent database) they say so at once instead of piling up threads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.feed.follower import Follower
from shared.sqlviews import migration_head


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


class Readiness:
    def __init__(
        self,
        engine: Engine,
        version_table: str,
        script_location: Path,
        followers: Sequence[Follower],
        max_lag_s: float,
        timeout_s: float,
    ) -> None:
        self._engine = engine
        self._version = sa.table(version_table, sa.column("version_num"))
        self._head = migration_head(script_location)
        self._followers = list(followers)
        self._max_lag_s = max_lag_s
        self._timeout_s = timeout_s
        self._asker = ThreadPoolExecutor(1, thread_name_prefix="readyz")
        self._asking: Future[str | None] | None = None
        self._asked_at = 0.0

    async def checks(self) -> list[Check]:
        found = await self._store()
        now = time.monotonic()
        for follower in self._followers:
            ok, detail = follower.health.verdict(now, self._max_lag_s)
            found.append(Check(f"follower {follower.name}", ok, detail))
        return found

    async def _store(self) -> list[Check]:
        started = time.monotonic()
        if self._asking is None or self._asking.done():
            self._asking, self._asked_at = self._asker.submit(self._revision), started
        wait_s = self._asked_at + self._timeout_s - started  # a question in flight is shared
        if wait_s <= 0:
            return [Check("database", False, "the last question to it has not been answered")]
        try:
            revision = await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(self._asking)), wait_s
            )
        except TimeoutError:
            return [Check("database", False, f"no answer within {self._timeout_s:g} s")]
        except Exception as exc:  # any failure to answer: not ready, and said why
            return [Check("database", False, f"unavailable: {type(exc).__name__}")]
        took_ms = (time.monotonic() - started) * 1000
        database = Check("database", True, f"answered in {took_ms:.0f} ms")
        if revision == self._head:
            return [database, Check("migrations", True, f"at head {self._head}")]
        return [
            database,
            Check("migrations", False, f"the store is at {revision}, this code needs {self._head}"),
        ]

    def _revision(self) -> str | None:
        with self._engine.connect() as connection:
            value = connection.execute(sa.select(self._version.c.version_num)).scalar()
        return None if value is None else str(value)

    def close(self) -> None:
        self._asker.shutdown(wait=False, cancel_futures=True)


def as_json(checks: Sequence[Check]) -> list[dict[str, object]]:
    return [asdict(check) for check in checks]
