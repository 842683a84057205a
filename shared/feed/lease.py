"""Leases: exactly one active follower per (service, upstream), however many replicas run.

Every replica and every uvicorn worker of a service starts the same followers. Before a
follower reads a page it holds its lease; the others stand by and take over when the holder
stops or dies. On PostgreSQL the lease is a session-level advisory lock on a connection of its
own, released by the server when that connection ends (the session's ``application_name``
names the follower and the process's pid, so ``pg_stat_activity`` shows which replica is
active); on SQLite it is an exclusive ``flock``
on a file beside the store, released by the kernel when the process ends.

A lease saves duplicate work; it is not what keeps effects single. Each sink still stores its
position in the transaction that applies a page, and refuses a page that does not start after
it (``ConcurrentFollowerError``, or the store's tracking constraint), so a holder that lost its
lease without noticing cannot apply a page twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

import psycopg

from shared.pgstore import deadline_connection, query_timeout_s
from shared.storeurls import eventsourcing_env, is_postgres

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 10


class Lease(Protocol):
    def hold(self) -> bool:
        """True while this process holds the lease: takes it if free, checks it if held."""
        ...

    def release(self) -> None: ...


def lease_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a follower's name."""
    digest = hashlib.sha256(f"outcomes-follower:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def application_name(name: str) -> str:
    """How a lease's session shows in ``pg_stat_activity``: which process is active."""
    return f"outcomes lease {name} pid {os.getpid()}"[:63]


class PostgresLease:
    """``pg_try_advisory_lock`` on a dedicated autocommit connection."""

    def __init__(self, database_url: str, name: str) -> None:
        parts = urlsplit(database_url)
        self._dsn = "postgresql://" + database_url.split("://", 1)[1]
        if parts.scheme.split("+")[0] not in ("postgresql", "postgres"):
            raise ValueError(f"not a PostgreSQL URL: {database_url!r}")
        self.name = name
        self._key = lease_key(name)
        self._connection: psycopg.Connection[Any] | None = None

    def hold(self) -> bool:
        try:
            if self._connection is not None:
                self._connection.execute("SELECT 1")
                return True
            connection = deadline_connection(query_timeout_s()).connect(
                self._dsn,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name=application_name(self.name),
            )
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            if row is not None and row[0]:
                self._connection = connection
                log.info("follower %s: lease taken; this replica is active", self.name)
                return True
            connection.close()
            return False
        except psycopg.Error as exc:
            log.warning("follower %s: lease lost or unavailable (%s)", self.name, exc)
            self.release()
            return False

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()  # ending the session releases the advisory lock


class FileLease:
    """An exclusive, non-blocking ``flock`` on ``<store>.<name>.lease``."""

    def __init__(self, path: Path, name: str) -> None:
        self.name = name
        self._path = path
        self._file: IO[bytes] | None = None

    def hold(self) -> bool:
        if self._file is not None:
            return True
        handle = self._path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        log.info("follower %s: lease taken (pid %d)", self.name, os.getpid())
        return True

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


def lease_for(database_url: str, name: str) -> Lease:
    """The lease of the follower ``name`` of a service whose store is at ``database_url``."""
    if is_postgres(database_url):
        return PostgresLease(database_url, name)
    store = Path(eventsourcing_env(database_url)["SQLITE_DBNAME"])
    safe = "".join(c if c.isalnum() else "-" for c in name)
    return FileLease(store.with_name(f"{store.name}.{safe}.lease"), name)
