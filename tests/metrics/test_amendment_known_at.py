"""A retroactive amendment seen from the reports: the money report as known before its
approval shows the old figures, and after it the new, from the same history (nothing edited)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from uuid import UUID

import yaml
from sqlalchemy.engine import Engine

from services.claims.application import ClaimsApplication
from services.ledger.application import ClaimsFeedSink, LedgerApplication
from services.metrics.api import create_app as metrics_app
from services.metrics.readmodels.performance import PerformanceProjector
from services.metrics.settings import MetricsSettings
from shared.feed.follower import Follower, LocalFeedSource
from shared.rules.model import parse_rulebook
from shared.settings import CommonSettings
from shared.sqlviews import SqlSink
from tests.claims.helpers import PROVIDER, story_events
from tests.conftest import IPS_RULEBOOK, serving

Auth = Callable[..., dict[str, str]]
CONTRACT = "ips-employment"


def follow(claims: ClaimsApplication, ledger: LedgerApplication, engine: Engine) -> None:
    """The ledger and metrics brought up to the end of the claims feed (and metrics to the
    ledger's)."""
    Follower("l", LocalFeedSource(claims.read_feed), ClaimsFeedSink(ledger)).catch_up()
    projector = PerformanceProjector()
    Follower("c", LocalFeedSource(claims.read_feed),
             SqlSink(engine, "claims", projector)).catch_up()  # fmt: skip
    Follower("m", LocalFeedSource(ledger.read_feed),
             SqlSink(engine, "ledger", projector.apply_ledger)).catch_up()  # fmt: skip


async def test_reports_as_known_before_the_approval_show_the_old_figures(
    claims: ClaimsApplication, urls: dict[str, str], common: CommonSettings, auth: Auth
) -> None:
    results = claims.intake.record_events(CONTRACT, PROVIDER, story_events("a", "a"), "p:x")
    for claim_id in [c for r in results for c in r.claim_ids]:
        claims.verification.verify(UUID(claim_id), "verifier:v", "")
    ledger = LedgerApplication(urls["ledger"], clock=lambda: dt.datetime.now(dt.UTC))
    app = metrics_app(MetricsSettings(database_url=urls["metrics"], follow=False), common)
    try:
        async with serving(app) as metrics:
            follow(claims, ledger, app.state.engine)
            before = dt.datetime.now(dt.UTC)
            text = IPS_RULEBOOK.read_text().replace('price: "1500.00"', 'price: "1800.00"')
            proposed = claims.amendments.propose(
                CONTRACT, parse_rulebook(yaml.safe_load(text)), "admin:alice", ""
            )
            claims.amendments.approve(
                CONTRACT, proposed.amendment_id, proposed.preview["preview_id"], "admin:bob"
            )
            while claims.amendments.apply_batch(CONTRACT, proposed.amendment_id):
                pass
            follow(claims, ledger, app.state.engine)

            async def accrued(**params: str) -> str:
                answer = await metrics.get(
                    f"/v1/contracts/{CONTRACT}/reports/money", params=params,
                    headers=auth("auditor"),
                )  # fmt: skip
                assert answer.status_code == 200, answer.text
                [total] = [row for row in answer.json()["rows"] if row["provider_id"] == "*"]
                return str(total["accrued"])

            # engagement 500 + job start 1,500 + 13 weeks 2,500 as known before the approval;
            # the job start at 1,800 after it (its 1,500 reversed)
            assert await accrued(as_known_at=before.isoformat()) == "4500.00"
            assert await accrued() == "4800.00"
    finally:
        ledger.close()
