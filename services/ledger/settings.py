"""Ledger service settings (``LEDGER_*``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.ledger.webhooks.targets import DEFAULT_DENIED, networks
from shared.settings import ServiceSettings


class LedgerSettings(ServiceSettings):
    SERVICE = "ledger"
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    port: int = Field(default=8002, ge=1, le=65535)
    claims_url: str = "http://127.0.0.1:8001"
    follow: bool = Field(default=True, description="Run the claims-feed follower in this process")
    webhooks: bool = Field(
        default=True, description="Queue and send webhook deliveries from this process (leased)"
    )
    webhook_timeout_s: float = Field(
        default=10.0, ge=0.1, le=60, description="A receiver must answer a delivery within this"
    )
    webhook_backoff_s: float = Field(
        default=5.0, ge=0.01, le=3600, description="The first retry's delay; each doubles"
    )
    webhook_backoff_max_s: float = Field(
        default=4 * 3600.0, ge=0.01, le=24 * 3600, description="The longest delay between retries"
    )
    webhook_retry_for_s: float = Field(
        default=24 * 3600.0, ge=0.1, le=30 * 24 * 3600,
        description="A subscription failing this long without a success is paused",
    )  # fmt: skip
    webhook_concurrency: int = Field(
        default=4, ge=1, le=64, description="Subscriptions sent to in parallel"
    )
    webhook_deny_networks: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DENIED),
        description="Addresses webhooks are never sent to (CIDR); add loopback and private "
        "ranges when every receiver is on the internet",
    )
    webhook_kept_days: float = Field(
        default=30.0, ge=0.001, le=3650,
        description="Deliveries sent (or cancelled) longer ago than this are forgotten",
    )  # fmt: skip
    webhook_max_subscriptions: int = Field(
        default=100, ge=1, le=10_000, description="Live subscriptions per owner (payer or admin)"
    )

    @field_validator("webhook_deny_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        networks(value)  # a bad CIDR stops the service at start, naming the setting
        return value
