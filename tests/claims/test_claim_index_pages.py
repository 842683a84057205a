"""The claim index written a page at a time equals the index written an entry at a time (issue
20: a page is a few statements instead of one an entry), on every page split of a feed where
claims are derived, submitted, rejected, disputed, verified, voided and contracts amended."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.claims.application import ClaimsApplication
from services.claims.readmodels.claim_index import (
    ClaimIndexer,
    apply_entry,
    claim_index,
    contract_settings,
    status_history,
)
from shared.feed.envelope import FeedEntry
from shared.sqlviews import SqlSink
from tests.claims.helpers import NOW, PROVIDER, claims_app, ips_rulebook, story_events
from tests.stores import migrated_engine


@pytest.fixture
def feed(urls: dict[str, str]) -> Iterator[list[FeedEntry]]:
    application: ClaimsApplication = claims_app(urls["claims"], lambda: NOW)
    try:
        application.contracts.register(ips_rulebook())
        claim_ids: list[UUID] = []
        for n in range(4):
            results = application.intake.record_events(
                "ips-employment", PROVIDER, story_events(f"case-{n}", f"e{n}"), "provider:p"
            )
            claim_ids += [UUID(c) for r in results for c in r.claim_ids]
        verification = application.verification
        verification.verify(claim_ids[0], "verifier:v", "")
        verification.reject(claim_ids[1], "verifier:v", "form_defect", "unsigned")
        verification.dispute(claim_ids[1], "provider:p", "signed copy")
        verification.verify(claim_ids[1], "verifier:v", "")
        application.corrections.retract_event(
            "ips-employment", PROVIDER, "e2-3", "provider:p", "entered in error"
        )
        amended = ips_rulebook().model_copy(update={"version_note": "second"})
        application.contracts.register(amended)
        yield application.read_feed(0, 1000)
    finally:
        application.close()


def _tables(engine: Engine) -> dict[str, list[Any]]:
    with engine.connect() as connection:
        return {
            table.name: sorted(tuple(row) for row in connection.execute(sa.select(table)))
            for table in (claim_index, status_history, contract_settings)
        }


@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_a_page_at_a_time_equals_an_entry_at_a_time(
    feed: list[FeedEntry], size: int, tmp_path: Path
) -> None:
    with (
        migrated_engine(f"sqlite:///{tmp_path / 'one.db'}", "claims") as one,
        migrated_engine(f"sqlite:///{tmp_path / 'pages.db'}", "claims") as pages,
    ):
        for entry in feed:
            SqlSink(one, "claims", apply_entry).apply([entry])
        sink = SqlSink(pages, "claims", ClaimIndexer())
        for start in range(0, len(feed), size):
            sink.apply(feed[start : start + size])
        expected = _tables(one)
        assert len(expected["claim_index"]) >= 8
        assert {row[5] for row in expected["claim_index"]} >= {"verified", "voided"}
        assert _tables(pages) == expected
