from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from services.claims.api import create_app
from services.claims.settings import ClaimsSettings
from shared.settings import CommonSettings
from tests.conftest import serving

EXAMPLES = Path(__file__).parents[2] / "examples" / "contracts"


@pytest.fixture
async def service(urls: dict[str, str], common: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The claims service in-process on the test store, with no contract yet."""
    app = create_app(ClaimsSettings(database_url=urls["claims"]), common)
    async with serving(app) as client:
        yield client


async def load_examples(client: httpx.AsyncClient, admin: dict[str, str], *names: str) -> None:
    for name in names:
        text = (EXAMPLES / f"{name}.yaml").read_text()
        response = await client.post(
            "/v1/contracts", content=text, headers={**admin, "Content-Type": "application/yaml"}
        )
        assert response.status_code == 201, response.text


Auth = Callable[..., dict[str, str]]
