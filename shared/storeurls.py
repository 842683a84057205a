"""Where a service's stores live: the event-sourcing library's environment for a database URL,
and the URL of the read models beside it. SQLite and PostgreSQL; anything else is refused."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from shared.settings import DB_MAX_OVERFLOW, DB_POOL_SIZE, DB_TIMEOUT_S, attempt_timeout_s

SQLITE_LOCK_TIMEOUT_S = 10
POSTGRES_LOCK_TIMEOUT_S = 10


class StoreConfigError(ValueError):
    pass


def is_postgres(database_url: str) -> bool:
    return urlsplit(database_url).scheme.split("+")[0] in ("postgresql", "postgres")


def eventsourcing_env(database_url: str) -> dict[str, str]:
    """The library's environment for a ``sqlite:///path`` or ``postgresql://…`` URL."""
    parts = urlsplit(database_url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        path = unquote(parts.path.lstrip("/")) if parts.netloc == "" else ""
        if not path:
            raise StoreConfigError(f"a SQLite URL needs a file path: {database_url!r}")
        path = "/" + path if database_url.startswith("sqlite:////") else path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_S),
            # the library's recorder, inserting side rows with the events (shared/sidetables.py)
            "PROCESS_RECORDER_TOPIC": "shared.sidetables:SideRowsSQLiteRecorder",
            "SINGLE_ROW_TRACKING": "y",
        }
    if scheme in ("postgresql", "postgres"):
        dbname = parts.path.lstrip("/")
        if not dbname:
            raise StoreConfigError(f"a PostgreSQL URL needs a database name: {database_url!r}")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_LOCK_TIMEOUT": str(POSTGRES_LOCK_TIMEOUT_S),
            "POSTGRES_CONNECT_TIMEOUT": str(attempt_timeout_s(DB_TIMEOUT_S)),
            # the library's recorder, with its retries bounded in time and side rows inserted
            # with the events (shared/pgstore.py, shared/sidetables.py)
            "PROCESS_RECORDER_TOPIC": "shared.pgstore:BoundedProcessRecorder",
            "POSTGRES_POOL_SIZE": str(DB_POOL_SIZE),
            "POSTGRES_MAX_OVERFLOW": str(DB_MAX_OVERFLOW),
            "POSTGRES_PRE_PING": "y",  # a connection broken while the database was away is
            # replaced at checkout, so the first request after it returns succeeds
            "SINGLE_ROW_TRACKING": "y",
        }
    raise StoreConfigError(f"unsupported database URL scheme {parts.scheme!r}")


def sqlalchemy_url(database_url: str, *, suffix: str = "views") -> str:
    """Where a service keeps its SQL read models.

    PostgreSQL: the same database as its events (psycopg 3 driver). SQLite: a sibling file, so
    read-model writes never wait on the event store's write lock.
    """
    parts = urlsplit(database_url)
    scheme = parts.scheme.split("+")[0]
    if scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + database_url.split("://", 1)[1]
    if scheme == "sqlite":
        path = Path(eventsourcing_env(database_url)["SQLITE_DBNAME"])
        return f"sqlite:///{path.with_suffix(f'.{suffix}{path.suffix}')}"
    raise StoreConfigError(f"unsupported database URL scheme {parts.scheme!r}")
