"""Claims service settings (``CLAIMS_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ClaimsSettings(ServiceSettings):
    SERVICE = "claims"
    model_config = SettingsConfigDict(env_prefix="CLAIMS_", extra="ignore")

    port: int = Field(default=8001, ge=1, le=65535)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_batch_events: int = Field(default=1000, ge=1, le=1000)
    rulebook_max_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="The largest rule book taken (POST /v1/contracts, what-if); larger: 413",
    )
    census_interval_s: float = Field(
        default=60,
        ge=0.1,
        le=3600,
        description="How often each replica counts the claims by status for /metrics "
        "(`outcomes_claims`); a count reads the whole claims index",
    )
    population_close_interval_s: float = Field(
        default=3600,
        ge=0,
        le=86_400,
        description="How often populations whose period closed are derived; 0: never (use "
        "the admin endpoint or the CLI instead)",
    )
    amendment_interval_s: float = Field(
        default=1.0,
        ge=0.05,
        le=3600,
        description="How often approved amendments waiting to be applied are looked for",
    )
    import_max_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        le=8 * 1024 * 1024 * 1024,
        description="The largest file an import job takes (POST …/imports); larger: 413",
    )
    import_max_rows: int = Field(
        default=5_000_000, ge=1, le=50_000_000, description="Rows in one import job's file"
    )
    import_max_pending: int = Field(
        default=4,
        ge=1,
        le=100,
        description="Unfinished import jobs a provider may have in one contract; more: 429",
    )
    import_lease_s: float = Field(
        default=60,
        ge=1,
        le=3600,
        description="How long a worker holds an import job between saves of its progress; a "
        "job whose worker died is taken over after this",
    )
    import_kept_days: int = Field(
        default=30, ge=1, le=3660, description="Days an ended import job (and its rejected "
        "rows) is kept"
    )  # fmt: skip
