"""Production refuses to start on development secrets."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import SecretStr

from services.claims.api import create_app
from services.claims.personal import new_wrapping_key
from shared.settings import CommonSettings, InsecureSettingsError

STRONG = SecretStr("s" * 40)
STRONG_AES = SecretStr(new_wrapping_key())


def test_production_refuses_the_development_keys() -> None:
    with pytest.raises(
        InsecureSettingsError, match="OUTCOMES_SIGNING_KEY is the development default"
    ):
        CommonSettings(
            env="production", pseudonym_key=STRONG, personal_data_key=STRONG_AES
        ).check_secrets()
    with pytest.raises(
        InsecureSettingsError, match="OUTCOMES_PSEUDONYM_KEY is the development default"
    ):
        CommonSettings(
            env="production", signing_key=STRONG, personal_data_key=STRONG_AES
        ).check_secrets()
    with pytest.raises(
        InsecureSettingsError, match="OUTCOMES_PERSONAL_DATA_KEY is the development default"
    ):
        CommonSettings(env="production", signing_key=STRONG, pseudonym_key=STRONG).check_secrets()


def test_a_personal_data_key_that_is_not_aes_256_is_refused_in_every_environment() -> None:
    for text in ("not base64 !", "c2hvcnQ=", STRONG.get_secret_value()):
        with pytest.raises(InsecureSettingsError, match="OUTCOMES_PERSONAL_DATA_KEY must be"):
            CommonSettings(env="development", personal_data_key=SecretStr(text)).check_secrets()


def test_production_refuses_short_keys() -> None:
    with pytest.raises(InsecureSettingsError, match="shorter than 32"):
        CommonSettings(
            env="production", signing_key=SecretStr("short"), pseudonym_key=STRONG
        ).check_secrets()


def test_production_with_real_keys_starts_and_development_allows_the_defaults() -> None:
    CommonSettings(
        env="production", signing_key=STRONG, pseudonym_key=STRONG, personal_data_key=STRONG_AES
    ).check_secrets()
    CommonSettings(env="development").check_secrets()


def test_a_service_app_will_not_build_in_production_on_the_default_key() -> None:
    with pytest.raises(InsecureSettingsError):
        create_app(common=CommonSettings(env="production"))


def test_the_cli_refuses_to_run_in_production_on_the_default_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "run"],
        env={"OUTCOMES_ENV": "production", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "refusing to start with OUTCOMES_ENV=production" in result.stderr
