"""Metrics service settings (``METRICS_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class MetricsSettings(ServiceSettings):
    SERVICE = "metrics"
    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore")

    port: int = Field(default=8003, ge=1, le=65535)
    claims_url: str = "http://127.0.0.1:8001"
    ledger_url: str = "http://127.0.0.1:8002"
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
