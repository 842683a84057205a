"""Settings shared by every service: environment, data directory, signing and pseudonym keys.

Each service adds its own pydantic-settings class with its own prefix (``CLAIMS_``, ``LEDGER_``,
``METRICS_``); the values here come from ``OUTCOMES_*`` variables. Nothing is read at import
time: call :func:`load_common_settings` at the edge and pass the object down.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import AnyHttpUrl, BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SIGNING_KEY = "outcomes-development-signing-key-do-not-use-in-production"
DEVELOPMENT_PSEUDONYM_KEY = "outcomes-development-pseudonym-key-do-not-use-in-production"
# base64 of "outcomes-dev-personal-data-key!!" (32 bytes); refused in production
DEVELOPMENT_PERSONAL_DATA_KEY = "b3V0Y29tZXMtZGV2LXBlcnNvbmFsLWRhdGEta2V5ISE="
MIN_SECRET_LENGTH = 32
# Connection budget: per service two pools (events, read models) of DB_POOL_SIZE kept open and
# DB_MAX_OVERFLOW more at peak, plus one connection per follower or worker lease (three) and
# (claims, ledger) one LISTENing for the feed's long-polls. Three services with two replicas
# each: at most 6 x (2 x 5 + 4) = 84 of PostgreSQL's default 100; 60 when idle.
DB_POOL_SIZE = 3
FEED_SIGNAL_ENV = "OUTCOMES_FEED_SIGNAL"  # in the store's environment (shared/feed/signal.py)
DB_MAX_OVERFLOW = 2
DB_TIMEOUT_S = 5.0


def tcp_keepalive_options(timeout_s: float) -> dict[str, int]:
    """libpq options that notice a dead or frozen network within about ``timeout_s``."""
    seconds = max(1, round(timeout_s))
    return {
        "keepalives": 1,
        "keepalives_idle": seconds,
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": seconds * 1000,
    }


def connect_options(timeout_s: float) -> dict[str, int | str]:
    """libpq options for every PostgreSQL connection the services open: the keepalives above,
    and no JIT compilation. A store whose statistics are missing or stale (autovacuum off, or
    not run yet) overestimates a lookup's cost, and past ``jit_above_cost`` PostgreSQL compiles
    the plan first: 150 ms of compiling for a 3 ms lookup of 500 streams. The services' queries
    are short lookups, which JIT never speeds up."""
    return {**tcp_keepalive_options(timeout_s), "options": "-c jit=off"}


def attempt_timeout_s(budget_s: float) -> int:
    """How long one attempt may wait to connect or for a pooled connection, so that a few
    attempts fit in the budget (whole seconds: the library reads an integer)."""
    return max(1, int(budget_s // 3))


@dataclass(frozen=True)
class PoolSizing:
    size: int = DB_POOL_SIZE
    max_overflow: int = DB_MAX_OVERFLOW
    timeout_s: float = DB_TIMEOUT_S


class InsecureSettingsError(RuntimeError):
    """Raised at start-up when production would run on a development secret."""


LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LogFormat = Literal["json", "console"]


def _lowered(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTCOMES_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")
    signing_key: SecretStr = SecretStr(DEVELOPMENT_SIGNING_KEY)
    pseudonym_key: SecretStr = SecretStr(DEVELOPMENT_PSEUDONYM_KEY)
    token_algorithm: Literal["HS256", "RS256"] = "HS256"
    token_public_key_file: Path | None = Field(default=None, description="RS256: PEM public key")
    token_jwks_file: Path | None = Field(
        default=None, description="RS256: a JWKS file; keys by kid"
    )
    token_private_key_file: Path | None = Field(
        default=None, description="RS256: PEM private key, to mint service and local tokens"
    )
    revoked_tokens_file: Path | None = Field(
        default=None, description="Revoked token ids, one a line"
    )
    cipher_key: SecretStr | None = Field(
        default=None,
        description="Base64 AES key (16, 24 or 32 bytes): encrypts every stored event at rest",
    )
    personal_data_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_PERSONAL_DATA_KEY),
        description="Base64 AES-256 key that wraps each participant's personal-data key",
    )
    personal_data_previous_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated personal-data keys being rotated out: they still open the "
        "participant keys they wrapped until `outcomes keys rewrap-personal-data` has re-wrapped "
        "them with OUTCOMES_PERSONAL_DATA_KEY (docs/operations.md)",
    )
    token_issuer: str = "outcomes"
    token_audience: str = "outcomes-api"
    service_token_ttl_s: int = Field(default=300, ge=30, le=3600)
    db_pool_size: int = Field(
        default=DB_POOL_SIZE, ge=1, le=50,
        description="Connections each pool keeps open (a service has two: events, read models)",
    )  # fmt: skip
    db_max_overflow: int = Field(
        default=DB_MAX_OVERFLOW, ge=0, le=50, description="Extra connections a pool may open"
    )
    db_timeout_s: float = Field(
        default=DB_TIMEOUT_S, ge=0.5, le=120,
        description="Connecting, and waiting for a pooled connection, fail after this",
    )  # fmt: skip
    db_query_timeout_s: float = Field(
        default=DB_TIMEOUT_S, ge=0, le=3600,
        description="Waiting for a statement's answer fails after this (0: no limit); read "
        "where connections are made (shared/pgstore.py), checked here at start-up",
    )  # fmt: skip

    ready_timeout_s: float = Field(
        default=2.0, ge=0.1, le=30,
        description="/readyz: how long the database may take to answer before it is not ready",
    )  # fmt: skip
    ready_max_lag_s: float = Field(
        default=60.0, ge=1, le=86400,
        description="/readyz: how long a follower may be behind its upstream, or failing",
    )  # fmt: skip

    migrate_on_start: bool = Field(
        default=False,
        description="Migrate the store's read models at start (`--migrate`); otherwise a store "
        "behind the code stops the service, naming `outcomes migrate`",
    )
    feed_signal: bool = Field(
        default=True,
        description="Wake feed long-polls when the store records something (LISTEN/NOTIFY on "
        "PostgreSQL) instead of reading every 50 ms; false only to measure it (bench/lag.py)",
    )
    observability: bool = Field(
        default=True,
        description="Request metrics, request logs and traces; false only to measure their cost "
        "(bench/observability.py)",
    )
    traces_exporter: Annotated[Literal["none", "otlp"], BeforeValidator(_lowered)] = Field(
        default="none", description="otlp: export traces to OUTCOMES_OTLP_ENDPOINT; none: do not"
    )
    otlp_endpoint: AnyHttpUrl | None = Field(
        default=None, description="An OTLP/HTTP collector, e.g. http://otel-collector:4318"
    )
    log_level: Annotated[LogLevel, BeforeValidator(_lowered)] = Field(
        default="info", description="debug, info, warning, error or critical (any case)"
    )
    log_format: Annotated[LogFormat, BeforeValidator(_lowered)] = Field(
        default="json", description="json (one object a line) or console (for people)"
    )

    @model_validator(mode="after")
    def _exporter_has_an_endpoint(self) -> CommonSettings:
        if self.traces_exporter == "otlp" and self.otlp_endpoint is None:
            raise ValueError("OUTCOMES_TRACES_EXPORTER=otlp needs OUTCOMES_OTLP_ENDPOINT")
        return self

    def check_secrets(self) -> None:
        """Refuse to run production on the development defaults or on short keys."""
        problems = []
        if self.token_algorithm == "RS256" and not (
            self.token_public_key_file or self.token_jwks_file
        ):
            problems.append(
                "RS256 needs OUTCOMES_TOKEN_PUBLIC_KEY_FILE or OUTCOMES_TOKEN_JWKS_FILE"
            )
        if not _is_aes256_base64(self.personal_data_key.get_secret_value()):
            problems.append("OUTCOMES_PERSONAL_DATA_KEY must be 32 random bytes, base64")
        if not all(_is_aes256_base64(key) for key in self.previous_personal_data_keys()):
            problems.append(
                "each of OUTCOMES_PERSONAL_DATA_PREVIOUS_KEYS must be 32 random bytes, base64"
            )
        if self.env != "production":
            if problems:
                raise InsecureSettingsError("; ".join(problems))
            return
        if (
            self.token_algorithm == "HS256"
            and self.signing_key.get_secret_value() == DEVELOPMENT_SIGNING_KEY
        ):
            problems.append("OUTCOMES_SIGNING_KEY is the development default")
        if self.pseudonym_key.get_secret_value() == DEVELOPMENT_PSEUDONYM_KEY:
            problems.append("OUTCOMES_PSEUDONYM_KEY is the development default")
        if self.personal_data_key.get_secret_value() == DEVELOPMENT_PERSONAL_DATA_KEY:
            problems.append("OUTCOMES_PERSONAL_DATA_KEY is the development default")
        secrets = [("PSEUDONYM", self.pseudonym_key)]
        if self.token_algorithm == "HS256":
            secrets.append(("SIGNING", self.signing_key))
        for name, secret in secrets:
            if len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
                problems.append(
                    f"OUTCOMES_{name}_KEY is shorter than {MIN_SECRET_LENGTH} characters"
                )
        if problems:
            raise InsecureSettingsError(
                "refusing to start with OUTCOMES_ENV=production: " + "; ".join(problems)
            )

    def previous_personal_data_keys(self) -> list[str]:
        if self.personal_data_previous_keys is None:
            return []
        keys = self.personal_data_previous_keys.get_secret_value().split(",")
        return [key.strip() for key in keys if key.strip()]

    def store_env(self) -> dict[str, str]:
        """The event store's pool sizes and timeout, and its cipher when a key is configured."""
        env = {
            "POSTGRES_POOL_SIZE": str(self.db_pool_size),
            "POSTGRES_MAX_OVERFLOW": str(self.db_max_overflow),
            "POSTGRES_CONNECT_TIMEOUT": str(attempt_timeout_s(self.db_timeout_s)),
            FEED_SIGNAL_ENV: "true" if self.feed_signal else "false",
        }
        if self.cipher_key is not None:
            env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
            env["CIPHER_KEY"] = self.cipher_key.get_secret_value()
        return env

    def pool(self) -> PoolSizing:
        return PoolSizing(self.db_pool_size, self.db_max_overflow, self.db_timeout_s)

    def sqlite_url(self, service: str) -> str:
        """The embedded default store of a service: one SQLite file under the data directory."""
        return f"sqlite:///{(self.data_dir / f'{service}.sqlite').resolve()}"


def _is_aes256_base64(text: str) -> bool:
    try:
        return len(base64.b64decode(text, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def load_common_settings() -> CommonSettings:
    return CommonSettings()


class ServiceSettings(BaseSettings):
    """What every service's own settings have: its store, where it listens, its body limit.

    A subclass names its service (the SQLite file's name) and sets its prefix and port."""

    SERVICE: ClassVar[str]

    database_url: str | None = Field(
        default=None,
        description="sqlite:///path or postgresql://…; default: SQLite in the data dir",
    )
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    def store_url(self, common: CommonSettings) -> str:
        return self.database_url or common.sqlite_url(self.SERVICE)
