"""Metrics service settings (``METRICS_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import CommonSettings


class MetricsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore")

    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8003, ge=1, le=65535)
    claims_url: str = "http://127.0.0.1:8001"
    ledger_url: str = "http://127.0.0.1:8002"
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    follow: bool = Field(
        default=True, description="Run the claims- and ledger-feed followers in this process"
    )
    snapshot_hours_kept_days: int = Field(
        default=35,
        ge=2,
        le=3660,
        description="Days the report cube's hour-start boundaries are kept; as known at an "
        "older moment reads day boundaries and recomputes from the day start (slower, exact)",
    )

    def store_url(self, common: CommonSettings) -> str:
        return self.database_url or common.sqlite_url("metrics")
