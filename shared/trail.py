"""The access trail: who did what, when, and with what outcome, kept append-only.

Every write, and every read of participant-level data (participants, claims, payables,
statements, feeds read by people), is recorded after it is answered. Routine reads by the
services' own followers (``service`` tokens on ``/feed``) and health checks are not. On
PostgreSQL a trigger refuses any UPDATE or DELETE of the table; the service has no code path
that changes a row.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Scope

from shared.asgi import AfterEach
from shared.auth import PRINCIPAL_KEY, Principal, Role, TokenSigner
from shared.errors import Unauthenticated
from shared.grouping import GroupWorker
from shared.logs import ACTOR_KEY
from shared.sqlviews import aware

log = logging.getLogger(__name__)
metadata = sa.MetaData()
MAX_PENDING = 10_000  # rows waiting to be written; beyond, a row is logged as lost
MAX_GROUP = 500  # rows written in one transaction


def _columns() -> list[sa.Column[Any]]:
    """The trail's columns, fresh for each use (the model below and the services' migrations)."""
    big_id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    return [
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("query", sa.String(1000), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    ]


access_trail = sa.Table("access_trail", metadata, *_columns())
UNRECORDED = ("/healthz", "/readyz", "/openapi.json", "/docs", "/redoc")  # and /docs-assets/
APPEND_ONLY_TRIGGER = """
CREATE OR REPLACE FUNCTION access_trail_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'the access trail is append-only'; END; $$ LANGUAGE plpgsql;
CREATE TRIGGER access_trail_append_only BEFORE UPDATE OR DELETE ON access_trail
FOR EACH ROW EXECUTE FUNCTION access_trail_append_only();
"""


def create_trail_table(op: Any) -> None:
    """For the services' Alembic migrations."""
    op.create_table("access_trail", *_columns())
    op.create_index("ix_access_trail_actor", "access_trail", ["actor", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_TRIGGER)


def _actor(signer: TokenSigner, scope: Scope) -> tuple[str, bool]:
    """(who, whether it is a service token): the caller the route verified, or else (a request
    refused before, or a route that reads no token) the bearer token's, if it is valid."""
    principal = scope.get(PRINCIPAL_KEY)
    if isinstance(principal, Principal):
        return principal.actor, principal.role is Role.SERVICE
    value = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
    if not value.lower().startswith("bearer "):
        return "anonymous", False
    try:
        principal = signer.verify(value[7:])
    except Unauthenticated:
        return "invalid-token", False
    return principal.actor, principal.role is Role.SERVICE


def _printable(scope: Scope) -> str:
    """The path as sent (percent-encoded), so a refused path with a NUL is still recorded."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else str(scope["path"]).encode("unicode_escape").decode()


class TrailWriter(GroupWorker[tuple[dict[str, Any], "Future[None]"]]):
    """Writes the trail's rows in groups, one transaction for all the rows waiting, on a thread
    of its own: a row per request in a transaction of its own cost each request a pool
    checkout, a commit and a hop to the thread pool (issue 20, point 3). A request still waits
    for its row's commit before its connection takes the next request, so the trail is as
    current as before. A failed write is logged, as before; the request's answer was sent."""

    def __init__(self, engine_of: Callable[[], Engine | None]) -> None:
        super().__init__("access-trail", MAX_PENDING, MAX_GROUP)
        self._engine_of = engine_of
        self.groups = 0  # transactions written (with ``rows``, shows the grouping)
        self.rows = 0

    def submit(self, row: dict[str, Any]) -> Future[None]:
        """Queue a row; the future is done once it is written (or its writing failed)."""
        done: Future[None] = Future()
        if not self.offer((row, done)):
            log.error("the access trail has %s rows waiting: %s %s not recorded",
                      MAX_PENDING, row["method"], row["path"])  # fmt: skip
            done.set_result(None)
        return done

    def handle(self, group: list[tuple[dict[str, Any], Future[None]]]) -> None:
        rows = [row for row, _ in group]
        try:
            engine = self._engine_of()
            if engine is not None:
                with engine.begin() as connection:
                    connection.execute(sa.insert(access_trail), rows)
                self.groups += 1
                self.rows += len(rows)
        except sa.exc.SQLAlchemyError:
            log.exception("could not record %s requests in the access trail, the first %s %s",
                          len(rows), rows[0]["method"], rows[0]["path"])  # fmt: skip
        finally:
            for _, done in group:
                done.set_result(None)


class AccessTrail(AfterEach):
    """Records each answered request in the trail of the service's SQL store."""

    def __init__(
        self, app: ASGIApp, writer: TrailWriter, signer_of: Callable[[], TokenSigner]
    ) -> None:
        super().__init__(app)
        self.writer = writer
        self.signer_of = signer_of

    def handles(self, scope: Scope) -> bool:
        return not scope["path"].startswith(UNRECORDED)

    async def after(self, scope: Scope, status: int, elapsed_s: float) -> None:
        actor, is_service = _actor(self.signer_of(), scope)
        scope[ACTOR_KEY] = actor  # for the request's log line (shared/logs.py)
        if not (is_service and scope["path"] == "/feed"):
            row = {
                "at": dt.datetime.now(dt.UTC),
                "actor": actor[:200],
                "method": scope["method"][:8],
                "path": _printable(scope)[:500],
                "query": scope.get("query_string", b"").decode("latin-1")[:1000],
                "status": status,
                "duration_ms": int(elapsed_s * 1000),
            }
            await asyncio.wrap_future(self.writer.submit(row))


def read_trail(engine: Engine, after: int, limit: int, actor: str | None) -> list[dict[str, Any]]:
    query = sa.select(access_trail).where(access_trail.c.id > after)
    if actor is not None:
        query = query.where(access_trail.c.actor == actor)
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(access_trail.c.id).limit(limit))
        return [dict(r._mapping) | {"at": aware(r.at)} for r in rows]
