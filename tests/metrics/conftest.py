"""What the metrics API tests share: a metrics service fed by a claims service that holds the
reports demo contract, two providers and four participants' events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.claims.api import create_app as claims_app
from services.claims.settings import ClaimsSettings
from services.metrics.api import create_app as metrics_app
from services.metrics.readmodels.performance import PerformanceProjector
from services.metrics.settings import MetricsSettings
from shared.feed.follower import Follower, LocalFeedSource
from shared.settings import CommonSettings
from shared.sqlviews import SqlSink
from tests.conftest import serving

RULEBOOK = Path(__file__).parent / "reports-demo.yaml"
CONTRACT = "reports-demo"
Auth = Callable[..., dict[str, str]]
REPORTS = f"/v1/contracts/{CONTRACT}/reports"


def event(ref: str, stage: str, day: str, **attributes: Any) -> dict[str, Any]:
    return {
        "event_id": f"{ref}-{stage}",
        "participant_ref": ref,
        "type": stage,
        "occurred_on": day,
        "attributes": attributes,
    }


@pytest.fixture
async def metrics(
    urls: dict[str, str], common: CommonSettings, auth: Auth
) -> AsyncIterator[httpx.AsyncClient]:
    claims = claims_app(ClaimsSettings(database_url=urls["claims"]), common)
    app = metrics_app(MetricsSettings(database_url=urls["metrics"], follow=False), common)
    async with serving(claims) as claims_client, serving(app) as client:
        await claims_client.post(
            "/v1/contracts",
            content=RULEBOOK.read_text(),
            headers=auth("admin") | {"Content-Type": "application/yaml"},
        )
        for provider, events in {
            "alpha": [
                event("a1", "referral", "2026-03-02", site="north"),
                event("a1", "enrollment", "2026-03-05", caseworker="Jo Smith"),
                event("a2", "referral", "2026-03-09", site="south"),
            ],
            "beta": [event("b1", "referral", "2026-03-03", site="north")],
        }.items():
            response = await claims_client.post(
                f"/v1/contracts/{CONTRACT}/events/batch",
                json={"events": events},
                headers=auth("provider", provider_id=provider),
            )
            assert response.status_code == 201, response.text
        source = LocalFeedSource(claims.state.application.read_feed)
        sink = SqlSink(app.state.engine, "claims", PerformanceProjector())
        Follower("test", source, sink).catch_up()
        yield client
