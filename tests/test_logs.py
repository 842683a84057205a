"""Issue 21, point 3: structured logs. One JSON line a request naming its id, the caller's role
and subject, the route's template, status and duration, never the token; probes at debug; a
console format for people; unknown levels and formats refused at start naming the setting."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.claims.api import create_app
from services.claims.settings import ClaimsSettings
from shared.auth import Role, TokenSigner
from shared.logs import configure_logging
from shared.settings import CommonSettings
from tests.conftest import serving


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_a_json_line_a_request_with_its_id_and_caller_and_never_the_token(
    tmp_path: Path, restored_logging: None
) -> None:
    common = CommonSettings(env="test", data_dir=tmp_path)
    token = TokenSigner.from_settings(common).issue(Role.ADMIN, subject="alice")
    admin = {"Authorization": f"Bearer {token}"}
    app = create_app(ClaimsSettings(), common)
    stream = io.StringIO()
    configure_logging("info", "json", stream)  # after the app: its own call would replace it
    async with serving(app) as client:
        asked = await client.get("/v1/contracts", headers={**admin, "X-Request-ID": "ticket-42"})
        missing = await client.get("/v1/contracts/no-such-contract", headers=admin)
        await client.get("/healthz")
        await client.get("/readyz")
        anonymous = await client.get("/v1/contracts")
    assert asked.status_code == 200 and missing.status_code == 404
    requests = [line for line in _lines(stream) if line["event"] == "request"]
    by_id = {line["request_id"]: line for line in requests}
    first = by_id["ticket-42"]
    assert first["level"] == "info" and first["logger"] == "outcomes.requests"
    assert (first["method"], first["route"], first["status"]) == ("GET", "/v1/contracts", 200)
    assert (first["role"], first["subject"]) == ("admin", "alice")
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert first["timestamp"].endswith("Z")
    assert len(first["trace_id"]) == 32 and len(first["span_id"]) == 16  # the request's span
    second = by_id[missing.headers["x-request-id"]]
    # the route's template, not the path: ids in a path stay out of the log
    assert second["route"] == "/v1/contracts/{contract_id}" and second["status"] == 404
    assert "no-such-contract" not in stream.getvalue()
    refused = by_id[anonymous.headers["x-request-id"]]
    assert (refused["status"], refused["role"]) == (401, "anonymous")
    assert token not in stream.getvalue()
    # probes are at debug: not in a log at info
    assert not [line for line in requests if line["route"] in ("/healthz", "/readyz")]


async def test_probes_are_logged_at_debug_and_people_read_the_console_format(
    tmp_path: Path, restored_logging: None
) -> None:
    app = create_app(ClaimsSettings(), CommonSettings(env="test", data_dir=tmp_path))
    stream = io.StringIO()
    configure_logging("debug", "console", stream)
    async with serving(app) as client:
        probe = await client.get("/healthz")
    text = stream.getvalue()
    line = next(line for line in text.splitlines() if probe.headers["x-request-id"] in line)
    assert "[debug" in line and "request" in line and "route=/healthz" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


@pytest.mark.parametrize(
    ("setting", "value"), [("log_level", "verbose"), ("log_format", "xml"), ("log_level", "")]
)
def test_an_unknown_level_or_format_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str
) -> None:
    monkeypatch.setenv(f"OUTCOMES_{setting.upper()}", value)
    with pytest.raises(ValidationError) as refused:
        CommonSettings()
    assert refused.value.errors()[0]["loc"] == (setting,)


def test_levels_are_read_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTCOMES_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("OUTCOMES_LOG_FORMAT", "Console")
    settings = CommonSettings()
    assert (settings.log_level, settings.log_format) == ("warning", "console")


async def test_with_observability_off_no_request_is_logged_or_counted(
    tmp_path: Path, restored_logging: None
) -> None:
    """The switch the overhead benchmark turns (bench/observability.py) turns these off."""
    common = CommonSettings(env="test", data_dir=tmp_path, observability=False)
    admin = {"Authorization": f"Bearer {TokenSigner.from_settings(common).issue(Role.ADMIN)}"}
    app = create_app(ClaimsSettings(), common)
    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    async with serving(app) as client:
        assert (await client.get("/v1/contracts", headers=admin)).status_code == 200
        scraped = (await client.get("/metrics", headers=admin)).text
    assert not [line for line in _lines(stream) if line["event"] == "request"]
    assert 'route="/v1/contracts"' not in scraped
