"""Rejected claims by reason code and by cohort, read from the claims feed's rejections on their
own position, as of the month's end and as known at any moment."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy.engine import Engine

from services.claims.application import ClaimsApplication
from services.metrics.application import (
    CLAIMS_UPSTREAM,
    MetricsApplication,
    Reporter,
    ReportRequest,
)
from services.metrics.following import upstreams
from services.metrics.readmodels.cube import Filters
from shared.feed.follower import Follower, LocalFeedSource
from shared.sqlviews import SqlSink
from tests.claims.helpers import NOW, PROVIDER, claims_app, ips_rulebook, story_events
from tests.stores import migrated_engine

CONTRACT = "ips-employment"


@dataclass
class Stack:
    claims: ClaimsApplication
    metrics: MetricsApplication
    engine: Engine
    now: dt.datetime = NOW

    def job_start(self, ref: str, referred: str) -> UUID:
        """Record a participant's story, referred on ``referred``; its job start's claim."""
        events = story_events(ref, ref)
        events[0] = dataclasses.replace(events[0], occurred_on=dt.date.fromisoformat(referred))
        results = self.claims.intake.record_events(CONTRACT, PROVIDER, events, "provider:p")
        return [UUID(c) for r in results for c in r.claim_ids][1]

    def reject(self, claim_id: UUID, reason: str, on: dt.datetime) -> None:
        self.now = on
        self.claims.verification.reject(claim_id, "verifier:v", reason, "")

    def report(self, month: str, **asked: Any) -> list[tuple[Any, ...]]:
        for upstream in upstreams():
            if upstream.service == CLAIMS_UPSTREAM:
                sink = SqlSink(self.engine, upstream.name, upstream.handler)
                Follower(upstream.name, LocalFeedSource(self.claims.read_feed), sink).catch_up()
        reporter = Reporter(self.engine, self.metrics, lambda: dt.datetime.now(dt.UTC))
        filters = Filters(**asked.pop("filters", {}))
        request = ReportRequest(CONTRACT, filters, month, **asked)
        rows = reporter.report(request, ["rejections"]).sections["rejections"]
        return sorted(
            (
                r["reason_code"],
                r["cohort"],
                r["month"],
                r["quarter_to_date"],
                r["year_to_date"],
                r["contract_to_date"],
            )
            for r in rows
            if r["contract_to_date"]
        )


@pytest.fixture
def stack(urls: dict[str, str]) -> Iterator[Stack]:
    metrics = MetricsApplication(urls["metrics"])
    with migrated_engine(urls["metrics"], "metrics") as engine:
        built = Stack(None, metrics, engine)  # type: ignore[arg-type]
        built.claims = claims_app(urls["claims"], lambda: built.now)
        built.claims.contracts.register(ips_rulebook())
        try:
            yield built
        finally:
            built.claims.close()
            metrics.close()


def test_rejections_by_reason_and_cohort_to_the_months_end(stack: Stack) -> None:
    first = stack.job_start("p1", "2026-02-10")
    second = stack.job_start("p2", "2026-03-02")
    third = stack.job_start("p3", "2026-03-05")
    stack.reject(first, "form_defect", NOW)  # 23 November
    stack.reject(second, "duplicate", NOW + dt.timedelta(days=9))  # 2 December
    stack.reject(third, "form_defect", NOW + dt.timedelta(days=10))
    assert stack.report("2026-12") == [  # month, quarter (October to December), year, all
        ("duplicate", "*", 1, 1, 1, 1),
        ("duplicate", "2026-03", 1, 1, 1, 1),
        ("form_defect", "*", 1, 2, 2, 2),
        ("form_defect", "2026-02", 0, 1, 1, 1),
        ("form_defect", "2026-03", 1, 1, 1, 1),
    ]
    assert stack.report("2026-11") == [  # December's decisions came after its end
        ("form_defect", "*", 1, 1, 1, 1),
        ("form_defect", "2026-02", 1, 1, 1, 1),
    ]
    assert stack.report("2026-12", filters={"cohort": "2026-03"}) == [
        ("duplicate", "*", 1, 1, 1, 1),
        ("duplicate", "2026-03", 1, 1, 1, 1),
        ("form_defect", "*", 1, 1, 1, 1),
        ("form_defect", "2026-03", 1, 1, 1, 1),
    ]
    assert stack.report("2027-01") == [  # a new quarter and year: only the contract to date
        ("duplicate", "*", 0, 0, 0, 1),
        ("duplicate", "2026-03", 0, 0, 0, 1),
        ("form_defect", "*", 0, 0, 0, 2),
        ("form_defect", "2026-02", 0, 0, 0, 1),
        ("form_defect", "2026-03", 0, 0, 0, 1),
    ]


def test_every_declared_reason_has_a_row_and_as_known_at_leaves_out_later_ones(
    stack: Stack,
) -> None:
    first = stack.job_start("p1", "2026-02-10")
    second = stack.job_start("p2", "2026-03-02")
    stack.reject(first, "form_defect", NOW)
    assert stack.report("2026-12")  # followed up to here
    known = dt.datetime.now(dt.UTC)
    stack.reject(second, "duplicate", NOW + dt.timedelta(days=9))
    assert stack.report("2026-12", as_known_at=known) == [
        ("form_defect", "*", 0, 1, 1, 1),
        ("form_defect", "2026-02", 0, 1, 1, 1),
    ]
    reporter = Reporter(stack.engine, stack.metrics, lambda: dt.datetime.now(dt.UTC))
    rows = reporter.report(ReportRequest(CONTRACT, month="2025-06"), ["rejections"])
    codes = [row["reason_code"] for row in rows.sections["rejections"]]
    assert codes == list(ips_rulebook().verification.reason_codes)
    assert all(row["contract_to_date"] == 0 for row in rows.sections["rejections"])
