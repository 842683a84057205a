"""Where ``outcomes audit rebuild`` reads from: the live read models (the service's SQL store,
from its settings) and the feeds to replay (over HTTP, with a service token)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.auditor.rebuild import Replay
from shared.auth import ServiceTokens, TokenSigner
from shared.feed.follower import HttpFeedSource
from shared.settings import CommonSettings
from shared.sqlviews import Handler, create_engine
from shared.storeurls import sqlalchemy_url


@dataclass
class RebuildPlan:
    live: Engine
    migrations: Path
    version_table: str
    tables: Iterable[sa.Table]
    sources: dict[str, HttpFeedSource] = field(default_factory=dict)
    handlers: dict[str, Handler] = field(default_factory=dict)

    def replays(self) -> list[Replay]:
        return [Replay(self.sources[name], name, self.handlers[name]) for name in self.sources]

    def close(self) -> None:
        for source in self.sources.values():
            source.close()
        self.live.dispose()


def rebuild_plan(
    service: str, common: CommonSettings, claims_url: str | None, ledger_url: str | None
) -> RebuildPlan:
    tokens = ServiceTokens(TokenSigner.from_settings(common), f"audit-rebuild-{service}")
    if service == "metrics":
        from services.metrics.api import MIGRATIONS
        from services.metrics.application import CLAIMS_UPSTREAM, LEDGER_UPSTREAM
        from services.metrics.following import upstreams
        from services.metrics.rebuild import READ_MODELS
        from services.metrics.settings import MetricsSettings

        settings = MetricsSettings()
        urls = {
            CLAIMS_UPSTREAM: claims_url or settings.claims_url,
            LEDGER_UPSTREAM: ledger_url or settings.ledger_url,
        }
        followed = upstreams()
        return RebuildPlan(
            create_engine(sqlalchemy_url(settings.store_url(common))),
            MIGRATIONS,
            "alembic_version_metrics",
            READ_MODELS,
            {u.name: u.source(urls[u.service], tokens) for u in followed},
            {u.name: u.handler for u in followed},
        )
    from services.ledger.api import MIGRATIONS as LEDGER_MIGRATIONS
    from services.ledger.readmodels import payables
    from services.ledger.readmodels import transactions as index
    from services.ledger.settings import LedgerSettings

    ledger_settings = LedgerSettings()
    own_url = ledger_url or f"http://{ledger_settings.host}:{ledger_settings.port}"
    return RebuildPlan(
        create_engine(sqlalchemy_url(ledger_settings.store_url(common))),
        LEDGER_MIGRATIONS,
        "alembic_version_ledger",
        (index.books, index.transactions, index.postings, payables.lines),
        {"ledger-index": HttpFeedSource(own_url, tokens)},
        {"ledger-index": index.apply_entry},
    )
