"""Settings shared by every service: environment, data directory, signing and pseudonym keys.

Each service adds its own pydantic-settings class with its own prefix (``CLAIMS_``, ``LEDGER_``,
``METRICS_``); the values here come from ``OUTCOMES_*`` variables. Nothing is read at import
time: call :func:`load_common_settings` at the edge and pass the object down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SIGNING_KEY = "outcomes-development-signing-key-do-not-use-in-production"
DEVELOPMENT_PSEUDONYM_KEY = "outcomes-development-pseudonym-key-do-not-use-in-production"
MIN_SECRET_LENGTH = 32


class InsecureSettingsError(RuntimeError):
    """Raised at start-up when production would run on a development secret."""


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTCOMES_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")
    signing_key: SecretStr = SecretStr(DEVELOPMENT_SIGNING_KEY)
    pseudonym_key: SecretStr = SecretStr(DEVELOPMENT_PSEUDONYM_KEY)
    token_issuer: str = "outcomes"  # noqa: S105 - a name, not a secret
    token_audience: str = "outcomes-api"  # noqa: S105 - a name, not a secret
    service_token_ttl_s: int = Field(default=300, ge=30, le=3600)

    def check_secrets(self) -> None:
        """Refuse to run production on the development defaults or on short keys."""
        if self.env != "production":
            return
        problems = []
        if self.signing_key.get_secret_value() == DEVELOPMENT_SIGNING_KEY:
            problems.append("OUTCOMES_SIGNING_KEY is the development default")
        if self.pseudonym_key.get_secret_value() == DEVELOPMENT_PSEUDONYM_KEY:
            problems.append("OUTCOMES_PSEUDONYM_KEY is the development default")
        for name, secret in (("SIGNING", self.signing_key), ("PSEUDONYM", self.pseudonym_key)):
            if len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
                problems.append(
                    f"OUTCOMES_{name}_KEY is shorter than {MIN_SECRET_LENGTH} characters"
                )
        if problems:
            raise InsecureSettingsError(
                "refusing to start with OUTCOMES_ENV=production: " + "; ".join(problems)
            )

    def sqlite_url(self, service: str) -> str:
        """The embedded default store of a service: one SQLite file under the data directory."""
        return f"sqlite:///{(self.data_dir / f'{service}.sqlite').resolve()}"


def load_common_settings() -> CommonSettings:
    return CommonSettings()
