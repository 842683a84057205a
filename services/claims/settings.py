"""Claims service settings (``CLAIMS_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import CommonSettings


class ClaimsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMS_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="sqlite:///path or postgresql://…; default: SQLite in the data dir",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=1, le=65535)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_batch_events: int = Field(default=1000, ge=1, le=1000)
    rulebook_max_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="The largest rule book taken (POST /v1/contracts, what-if); larger: 413",
    )
    population_close_interval_s: float = Field(
        default=3600,
        ge=0,
        le=86_400,
        description="How often populations whose period closed are derived; 0: never (use "
        "the admin endpoint or the CLI instead)",
    )

    def store_url(self, common: CommonSettings) -> str:
        return self.database_url or common.sqlite_url("claims")
