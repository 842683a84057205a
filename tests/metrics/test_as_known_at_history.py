"""As known at any past moment, every report gives what the live report gave at that moment.

The live answers are recorded after each of four steps of a history (a first batch; a late
referral and a correction; a retraction and staffing figures; an amendment of the rule book
with a new KPI), each with the clock at that moment; at the end each moment is asked for again
with ``as_known_at`` and every report must be the same, row for row.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import yaml

from services.claims.commands import IncomingEvent
from services.metrics.application import MetricsApplication, Reporter, ReportRequest
from services.metrics.readmodels.cube import Filters
from services.metrics.readmodels.performance import PerformanceProjector
from services.metrics.reports import REPORTS
from shared.feed.follower import Follower, LocalFeedSource
from shared.rules.model import parse_rulebook
from shared.sqlviews import SqlSink
from tests.claims.helpers import NOW, claims_app
from tests.metrics.test_reports import CONTRACT, MARCH, PEOPLE, RULEBOOK, day, events_of
from tests.stores import migrated_engine

Answers = dict[tuple[str, str | None], list[dict[str, Any]]]
FILTERS = (None, "alpha")  # the whole contract, and one provider


def test_every_report_as_known_at_each_moment_is_what_it_was_live(urls: dict[str, str]) -> None:
    document = yaml.safe_load(RULEBOOK.read_text())
    claims = claims_app(urls["claims"])
    metrics = MetricsApplication(urls["metrics"])
    with migrated_engine(urls["metrics"], "metrics") as engine:
        try:
            follower = Follower(
                "test",
                LocalFeedSource(claims.read_feed),
                SqlSink(engine, "claims", PerformanceProjector()),
            )
            now = dt.datetime.now(dt.UTC)
            reporter = Reporter(engine, metrics, clock=lambda: now)

            def live() -> tuple[dt.datetime, Answers]:
                nonlocal now
                follower.catch_up()
                now = dt.datetime.now(dt.UTC)
                return now, answers(reporter, None)

            def answers(reporter: Reporter, known_at: dt.datetime | None) -> Answers:
                found: Answers = {}
                for provider in FILTERS:
                    request = ReportRequest(CONTRACT, Filters(provider), MARCH, known_at)
                    sections = reporter.report(request, list(REPORTS)).sections
                    found.update(((name, provider), rows) for name, rows in sections.items())
                return found

            moments = []
            claims.contracts.register(parse_rulebook(document))
            for ref, (provider, site, ltu, dates) in list(PEOPLE.items())[:4]:
                events = events_of(ref, site, ltu, dates)
                claims.intake.record_events(CONTRACT, provider, events, f"provider:{provider}")
            moments.append(live())

            for ref, (provider, site, ltu, dates) in list(PEOPLE.items())[4:]:
                events = events_of(ref, site, ltu, dates)
                claims.intake.record_events(CONTRACT, provider, events, f"provider:{provider}")
            late = events_of("A4", "north", False, ["01-25", "01-30", None, None])
            claims.intake.record_events(CONTRACT, "alpha", late, "provider:alpha")
            corrected = IncomingEvent("A2-job_start", "A2", "job_start", day("02-27"), {})
            claims.corrections.correct_event(CONTRACT, "alpha", corrected, "provider:alpha", "x")
            moments.append(live())

            claims.corrections.retract_event(
                CONTRACT, "beta", "B2-enrollment", "provider:beta", "entered twice"
            )
            metrics.report_staffing(CONTRACT, "alpha", MARCH, Decimal("2.5"), "provider:alpha")
            moments.append(live())

            kpi = {**document["kpis"][0], "id": "enrolled_within_7_days", "within_days": 7}
            amendment = {
                **document,
                "effective_from": (NOW + dt.timedelta(days=7)).date().isoformat(),
                "kpis": [*document["kpis"], kpi],
            }
            claims.contracts.register(parse_rulebook(amendment))
            moments.append(live())

            assert len({repr(a) for _, a in moments}) == len(moments), "each step changes a figure"
            for at, recorded in moments:
                again = answers(reporter, at)
                for key, rows in recorded.items():
                    assert again[key] == rows, (at, key)
        finally:
            claims.close()
            metrics.close()
