"""Performance reports from a small synthetic history, every table computed by hand.

Seven participants of two providers over January to March 2026, on two sites, some long-term
unemployed. A first batch is recorded; then a late referral (and its enrollment) arrives and a
job start is corrected to an earlier date. Reports are for March 2026, on 1 April 2026.

    ref  provider site  ltu    referral  enrollment  job_start       job_sustained
    A1   alpha    north true   01-05     01-10       02-20
    A2   alpha    north false  01-20     02-15       03-10 -> 02-27
    A3   alpha    south false  02-03     02-10       03-02           03-30
    B1   beta     south true   02-14
    B2   beta     north false  03-01     03-20
    B3   beta     south true   03-15
    A4   alpha    north false  01-25     01-30                        (late: second batch)

The enrollments name caseworkers: A1 and A2 Sam Green, A3 Kim Lee (alpha's staff), B2 Sam Green
(beta's: another person, so another pseudonym); A4's names none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.claims.application import ClaimsApplication
from services.claims.commands import IncomingEvent
from services.metrics.application import MetricsApplication, Reporter, ReportRequest
from services.metrics.readmodels.cube import Filters
from services.metrics.readmodels.performance import PerformanceProjector
from shared.feed.envelope import FeedEntry
from shared.feed.follower import Follower, LocalFeedSource
from shared.rules.model import RuleBookInvalid, parse_rulebook
from shared.sqlviews import SqlSink
from tests.claims.helpers import claims_app
from tests.stores import migrated_engine

RULEBOOK = Path(__file__).parent / "reports-demo.yaml"
CONTRACT = "reports-demo"
APRIL_FIRST = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
MARCH = "2026-03"

PEOPLE = {
    "A1": ("alpha", "north", True, ["01-05", "01-10", "02-20", None]),
    "A2": ("alpha", "north", False, ["01-20", "02-15", "03-10", None]),
    "A3": ("alpha", "south", False, ["02-03", "02-10", "03-02", "03-30"]),
    "B1": ("beta", "south", True, ["02-14", None, None, None]),
    "B2": ("beta", "north", False, ["03-01", "03-20", None, None]),
    "B3": ("beta", "south", True, ["03-15", None, None, None]),
}
STAGES = ("referral", "enrollment", "job_start", "job_sustained")
WAGES = {"A1": "11.00", "A2": "12.50", "A3": "14.25"}  # hourly, on the job start
CASEWORKERS = {"A1": "Sam Green", "A2": "Sam Green", "A3": "Kim Lee", "B2": "Sam Green"}


def day(month_day: str) -> dt.date:
    return dt.date.fromisoformat(f"2026-{month_day}")


def events_of(ref: str, site: str, ltu: bool, dates: list[str | None]) -> list[IncomingEvent]:
    found = []
    for stage, when in zip(STAGES, dates, strict=True):
        if when is not None:
            attributes: dict[str, Any] = {}
            if stage == "referral":
                attributes = {"site": site, "long_term_unemployed": ltu}
            if stage == "enrollment" and ref in CASEWORKERS:
                attributes = {"caseworker": CASEWORKERS[ref]}
            if stage == "job_start" and ref in WAGES:
                attributes = {"hourly_wage": WAGES[ref]}
            found.append(IncomingEvent(f"{ref}-{stage}", ref, stage, day(when), attributes))
    return found


@dataclass
class Demo:
    claims: ClaimsApplication
    metrics: MetricsApplication
    reporter: Reporter
    follower: Follower
    first_batch_known_at: dt.datetime

    def report(self, name: str, **request: Any) -> list[dict[str, Any]]:
        self.follower.catch_up()
        filters = Filters(**request.pop("filters", {}))
        report = self.reporter.report(
            ReportRequest(CONTRACT, filters, request.pop("month", MARCH), **request), [name]
        )
        return report.sections[name]


@pytest.fixture
def demo(urls: dict[str, str]) -> Iterator[Demo]:
    with built_demo(urls, yaml.safe_load(RULEBOOK.read_text())) as built:
        yield built


@contextmanager
def built_demo(urls: dict[str, str], document: dict[str, Any]) -> Iterator[Demo]:
    claims = claims_app(urls["claims"])
    metrics = MetricsApplication(urls["metrics"])
    with migrated_engine(urls["metrics"], "metrics") as engine:
        try:
            claims.contracts.register(parse_rulebook(document))
            for ref, (provider, site, ltu, dates) in PEOPLE.items():
                claims.intake.record_events(
                    CONTRACT, provider, events_of(ref, site, ltu, dates), f"provider:{provider}"
                )
            known_at = dt.datetime.now(dt.UTC)
            late = events_of("A4", "north", False, ["01-25", "01-30", None, None])
            claims.intake.record_events(CONTRACT, "alpha", late, "provider:alpha")
            corrected = IncomingEvent("A2-job_start", "A2", "job_start", day("02-27"), {})
            claims.corrections.correct_event(CONTRACT, "alpha", corrected, "provider:alpha", "typo")
            metrics.report_staffing(CONTRACT, "alpha", MARCH, Decimal("2.5"), "provider:alpha")
            metrics.report_staffing(CONTRACT, "beta", MARCH, Decimal("1"), "provider:beta")
            projector = PerformanceProjector()
            follower = Follower(
                "test",
                LocalFeedSource(claims.read_feed),
                SqlSink(engine, "claims", projector),
            )
            ledger = SqlSink(engine, "ledger", projector.apply_ledger)
            ledger.apply(ledger_history())
            reporter = Reporter(engine, metrics, clock=lambda: APRIL_FIRST)
            yield Demo(claims, metrics, reporter, follower, known_at)
        finally:
            claims.close()
            metrics.close()


def ledger_history() -> list[FeedEntry]:
    """An accrual of 500.00 for alpha with 100.00 capped, a payment of 300.00, 200.00 for beta."""
    at = dt.datetime(2026, 3, 31, tzinfo=dt.UTC)

    def entry(position: int, type_: str, data: dict[str, Any]) -> FeedEntry:
        return FeedEntry(
            position=position,
            type=type_,
            schema_version=1,
            stream_id="book-1",
            stream_version=position,
            recorded_at=at,
            data=data,
        )

    def posted(provider: str, kind: str, lines: dict[str, int]) -> dict[str, Any]:
        entries = [{"account": a, "amount_minor": n} for a, n in lines.items()]
        return {
            "transaction_id": f"t-{provider}-{kind}-{sum(abs(n) for n in lines.values())}",
            "kind": kind,
            "claim_id": f"claim-{provider}",
            "provider_id": provider,
            "currency": "GBP",
            "entries": entries,
            "booked_period": "2026-03",
            "corrects_period": None,
            "details": accrual(provider, lines) if kind == "accrual" else {},
        }

    def accrual(provider: str, lines: dict[str, int]) -> dict[str, Any]:
        accrued, capped = lines["outcome_payments"], lines.get("memo:capped:budget", 0)
        line = {
            "provider_id": provider, "participant_id": f"p-{provider}", "outcome_id": "job_start",
            "occurred_on": "2026-03-02", "contract_version": 1, "amount": accrued + capped,
            "accrued": accrued, "capped": capped, "cap_id": "budget" if capped else None,
            "cap_keys": ["budget"],
        }  # fmt: skip
        return {"line": line, "cap_keys": ["budget"]}

    return [
        entry(
            1,
            "ledger.book_opened",
            {"contract_id": CONTRACT, "currency": "GBP", "caps": [], "providers": []},
        ),
        entry(
            2,
            "ledger.transaction_posted",
            posted(
                "alpha",
                "accrual",
                {
                    "outcome_payments": 50_000,
                    "payable:alpha": -50_000,
                    "memo:capped:budget": 10_000,
                    "memo:capped_offset": -10_000,
                },
            ),
        ),
        entry(
            3,
            "ledger.transaction_posted",
            posted("alpha", "payment", {"payable:alpha": 30_000, "paid": -30_000}),
        ),
        entry(
            4,
            "ledger.transaction_posted",
            posted("beta", "accrual", {"outcome_payments": 20_000, "payable:beta": -20_000}),
        ),
    ]


def table(rows: list[dict[str, Any]], *columns: str) -> list[tuple[Any, ...]]:
    return [tuple(row[c] for c in columns) for row in rows]


def test_funnel_counts_in_the_month_quarter_year_and_contract_to_date(demo: Demo) -> None:
    rows = demo.report("funnel")
    assert table(rows, "stage", "month", "quarter_to_date", "year_to_date", "contract_to_date") == [
        ("referral", 2, 7, 7, 7),
        ("enrollment", 1, 5, 5, 5),
        ("job_start", 1, 3, 3, 3),
        ("job_sustained", 1, 1, 1, 1),
    ]


def test_quarter_and_year_to_date_follow_the_contracts_reporting_year(
    urls: dict[str, str],
) -> None:
    """With a reporting year from November, March 2026 is in the year 2025 (November 2025 to
    October 2026) and its quarter 2025-Q2 (February to April 2026)."""
    document = {**yaml.safe_load(RULEBOOK.read_text()), "calendar": {"year_starts": 11}}
    document["targets"][1]["values"] = {"2025-Q1": 3, "2025-Q2": 4}
    with built_demo(urls, document) as fiscal:
        rows = fiscal.report("funnel")
        targets = fiscal.report("targets")
    assert table(rows, "stage", "month", "quarter_to_date", "year_to_date", "contract_to_date") == [
        ("referral", 2, 4, 7, 7),  # referrals: January 3, February 2, March 2
        ("enrollment", 1, 3, 5, 5),  # January 2, February 2, March 1
        ("job_start", 1, 3, 3, 3),  # February 2 (one corrected from March), March 1
        ("job_sustained", 1, 1, 1, 1),
    ]
    investor = [r for r in targets if r["target_id"] == "investor"]
    # 2025-Q1 is November to January: no job starts; 2025-Q2 is February to April: 3 so far
    assert table(investor, "period", "target", "actual", "current") == [
        ("2025-Q1", 3, 0, False),
        ("2025-Q2", 4, 3, True),
    ]


def test_targets_may_be_decimal_and_cumulative(urls: dict[str, str]) -> None:
    """Job starts: none in January, 2 in February (one corrected from March), 1 in March."""
    document = yaml.safe_load(RULEBOOK.read_text())
    document["targets"] = [
        {
            "id": "ytd",
            "name": "Job starts, year to date",
            "stage": "job_start",
            "period": "month",
            "cumulative": "year_to_date",
            "values": {"2026-01": 1, "2026-02": "2.5", "2026-03": 4},
        },
        {
            "id": "profile",
            "name": "Base profile (job starts)",
            "stage": "job_start",
            "period": "month",
            "values": {"2026-03": "0.5"},
        },
    ]
    with built_demo(urls, document) as demo:
        rows = demo.report("targets")
    assert table(
        rows, "target_id", "period", "target", "actual", "percent_of_target", "difference"
    ) == [
        ("ytd", "2026-01", 1, 0, "0.0", -1),
        ("ytd", "2026-02", "2.5", 2, "80.0", "-0.5"),  # 2 of 2.5
        ("ytd", "2026-03", 4, 3, "75.0", -1),  # 0 + 2 + 1 = 3 of 4
        ("profile", "2026-03", "0.5", 1, "200.0", "0.5"),
    ]
    assert table(rows[2:3], "prior_actual", "against_prior") == [(2, "up")]


def test_target_series_per_site_and_per_provider(urls: dict[str, str]) -> None:
    """Job starts: north had 2 in February (one corrected from March), south 1 in March; all
    three were alpha's, none beta's."""
    document = yaml.safe_load(RULEBOOK.read_text())
    document["targets"] = [
        {
            "id": "sites",
            "name": "Job starts by site",
            "stage": "job_start",
            "period": "month",
            "by": "site",
            "values_by": {"north": {"2026-02": 1, "2026-03": "1.5"}, "south": {"2026-03": 2}},
        },
        {
            "id": "providers",
            "name": "Job starts by provider, to date",
            "stage": "job_start",
            "period": "quarter",
            "cumulative": "contract_to_date",
            "by": "provider",
            "values_by": {"alpha": {"2026-Q1": 4}, "beta": {"2026-Q1": 1}},
        },
    ]
    with built_demo(urls, document) as demo:
        rows = demo.report("targets")
    assert table(rows, "target_id", "group", "period", "target", "actual", "percent_of_target") == [
        ("sites", "north", "2026-02", 1, 2, "200.0"),
        ("sites", "north", "2026-03", "1.5", 0, "0.0"),
        ("sites", "south", "2026-03", 2, 1, "50.0"),
        ("providers", "alpha", "2026-Q1", 4, 3, "75.0"),
        ("providers", "beta", "2026-Q1", 1, 0, "0.0"),
    ]


def test_a_staffing_target_compares_the_posted_wte(urls: dict[str, str]) -> None:
    """March staffing: alpha 2.5 WTE, beta 1."""
    document = yaml.safe_load(RULEBOOK.read_text())
    document["targets"] = [
        {"id": "staff", "name": "Staff (WTE) at least", "measure": "staffing",
         "period": "month", "values": {"2026-03": 4}},
        {"id": "staff_by_provider", "name": "Staff (WTE) per provider", "measure": "staffing",
         "period": "month", "by": "provider",
         "values_by": {"alpha": {"2026-03": 2}, "beta": {"2026-03": "1.5"}}},
    ]  # fmt: skip
    with built_demo(urls, document) as demo:
        rows = demo.report("targets")
    assert table(
        rows, "target_id", "group", "target", "actual", "percent_of_target", "difference"
    ) == [
        ("staff", None, 4, "3.50", "87.5", "-0.50"),
        ("staff_by_provider", "alpha", 2, "2.50", "125.0", "0.50"),
        ("staff_by_provider", "beta", "1.5", "1.00", "66.7", "-0.50"),
    ]


def test_a_target_table_naming_what_the_contract_lacks_is_refused() -> None:
    document = yaml.safe_load(RULEBOOK.read_text())
    document["targets"] = [
        {"id": "a", "name": "A", "stage": "job_start", "period": "month", "by": "site",
         "values_by": {"east": {"2026-01": 1}}},
        {"id": "b", "name": "B", "stage": "job_start", "period": "month", "by": "provider",
         "values_by": {"gamma": {"2026-01": 1}}, "values": {"2026-01": 1}},
        {"id": "c", "name": "C", "stage": "job_start", "period": "month"},
        {"id": "d", "name": "D", "measure": "staffing", "stage": "job_start", "by": "site",
         "period": "month", "values_by": {"north": {"2026-01": 1}}},
    ]  # fmt: skip
    with pytest.raises(RuleBookInvalid) as caught:
        parse_rulebook(document)
    assert [p.field for p in caught.value.problems] == [
        "targets.0.values_by.east",
        "targets.1.values",
        "targets.1.values_by.gamma",
        "targets.2.values",
        "targets.3.stage",
        "targets.3.by",
    ]


def test_filters_by_provider_site_and_cohort(demo: Demo) -> None:
    columns = ("stage", "contract_to_date")
    beta = demo.report("funnel", filters={"provider_id": "beta"})
    assert table(beta, *columns) == [
        ("referral", 3),
        ("enrollment", 1),
        ("job_start", 0),
        ("job_sustained", 0),
    ]
    north = demo.report("funnel", filters={"site": "north"})
    assert table(north, *columns) == [
        ("referral", 4),
        ("enrollment", 4),
        ("job_start", 2),
        ("job_sustained", 0),
    ]
    february = demo.report("funnel", filters={"cohort": "2026-02"})
    assert table(february, *columns) == [
        ("referral", 2),
        ("enrollment", 1),
        ("job_start", 1),
        ("job_sustained", 1),
    ]


def test_conversion_between_stages(demo: Demo) -> None:
    rows = demo.report("conversion")
    assert table(rows, "from_stage", "to_stage", "from_participants", "to_participants") == [
        ("referral", "enrollment", 7, 5),
        ("enrollment", "job_start", 5, 3),
        ("job_start", "job_sustained", 3, 1),
        ("referral", "job_start", 7, 3),
        ("referral", "job_sustained", 7, 1),
    ]
    assert [r["rate_percent"] for r in rows] == ["71.4", "60.0", "33.3", "42.9", "14.3"]


def test_cohorts_by_month_of_referral(demo: Demo) -> None:
    rows = demo.report("cohorts")
    assert table(rows, "cohort", "stage", "participants", "share_of_cohort_percent") == [
        ("2026-01", "referral", 3, "100.0"),
        ("2026-01", "enrollment", 3, "100.0"),
        ("2026-01", "job_start", 2, "66.7"),
        ("2026-01", "job_sustained", 0, "0.0"),
        ("2026-02", "referral", 2, "100.0"),
        ("2026-02", "enrollment", 1, "50.0"),
        ("2026-02", "job_start", 1, "50.0"),
        ("2026-02", "job_sustained", 1, "50.0"),
        ("2026-03", "referral", 2, "100.0"),
        ("2026-03", "enrollment", 1, "50.0"),
        ("2026-03", "job_start", 0, "0.0"),
        ("2026-03", "job_sustained", 0, "0.0"),
    ]


def test_actuals_against_every_target_series(demo: Demo) -> None:
    rows = demo.report("targets")
    columns = (
        "target_id",
        "period",
        "target",
        "actual",
        "percent_of_target",
        "prior_actual",
        "against_prior",
        "average_of_previous_3",
        "against_average",
    )
    assert table(rows, *columns) == [
        ("plan", "2026-01", 1, 0, "0.0", 0, "same", "0.0", "same"),
        ("plan", "2026-02", 2, 2, "100.0", 0, "up", "0.0", "up"),
        ("plan", "2026-03", 2, 1, "50.0", 2, "down", "0.7", "up"),
        ("investor", "2026-Q1", 4, 3, "75.0", 0, "up", "0.0", "up"),
    ]
    assert [r["current"] for r in rows] == [False, False, True, True]


def test_figures_per_caseworker_use_the_posted_staffing(demo: Demo) -> None:
    rows = demo.report("caseload")
    assert table(rows, "provider_id", "wte", "stage", "participants", "per_wte") == [
        ("alpha", "2.5", "referral", 0, "0.00"),
        ("alpha", "2.5", "enrollment", 0, "0.00"),
        ("alpha", "2.5", "job_start", 1, "0.40"),
        ("alpha", "2.5", "job_sustained", 1, "0.40"),
        ("beta", "1", "referral", 2, "2.00"),
        ("beta", "1", "enrollment", 1, "1.00"),
        ("beta", "1", "job_start", 0, "0.00"),
        ("beta", "1", "job_sustained", 0, "0.00"),
    ]


def test_time_between_stages_in_week_buckets(demo: Demo) -> None:
    rows = demo.report("intervals")
    found = {(r["from_stage"], r["bucket"]): r["participants"] for r in rows}
    assert [found[("referral", b)] for b in ("<=1w", "1-2w", "2-3w", "3-4w", "4w+", "not_yet")] == [
        3,
        0,
        1,
        1,
        0,
        2,
    ]
    assert [
        found[("enrollment", b)] for b in ("<=1w", "1-2w", "2-3w", "3-4w", "4w+", "not_yet")
    ] == [
        0,
        1,
        1,
        0,
        1,
        2,
    ]
    assert [
        found[("job_start", b)] for b in ("<=1w", "1-2w", "2-3w", "3-4w", "4w+", "not_yet")
    ] == [
        0,
        0,
        0,
        1,
        0,
        2,
    ]


def test_waits_for_a_past_month_are_the_state_at_its_end(demo: Demo) -> None:
    """At the end of February A3 had enrolled (02-10) but started work only on 03-02: it has
    not yet reached the job start, whatever happened in March; B2 and B3, referred in March,
    are not counted at all."""
    rows = demo.report("intervals", month="2026-02")
    found = {(r["from_stage"], r["bucket"]): r["participants"] for r in rows}
    buckets = ("<=1w", "1-2w", "2-3w", "3-4w", "4w+", "not_yet")
    assert [found[("referral", b)] for b in buckets] == [3, 0, 0, 1, 0, 1]
    assert [found[("enrollment", b)] for b in buckets] == [0, 1, 0, 0, 1, 2]


def test_days_since_last_contact_leave_out_participants_who_finished(demo: Demo) -> None:
    """Counted to the end of March (the report's month), not to the request's day (1 April):
    A4's last contact, 30 January, is 60 days before it."""
    rows = demo.report("contact")
    assert table(rows, "days_since_last_contact", "participants", "as_of") == [
        ("0-7", 0, "2026-03-31"),
        ("8-14", 1, "2026-03-31"),
        ("15-30", 1, "2026-03-31"),
        ("31-60", 4, "2026-03-31"),
        ("61+", 0, "2026-03-31"),
        ("never contacted", 0, "2026-03-31"),
    ]


def test_contact_for_a_past_month_is_counted_to_its_end_from_what_had_happened(
    demo: Demo,
) -> None:
    """At the end of February: A2 last seen 02-27, A1 02-20 and B1 02-14, A3 02-10 and A4
    01-30; A3 had not finished yet (its sustainment is 03-30); B2 and B3 had not started."""
    rows = demo.report("contact", month="2026-02")
    assert table(rows, "days_since_last_contact", "participants", "as_of") == [
        ("0-7", 1, "2026-02-28"),
        ("8-14", 2, "2026-02-28"),
        ("15-30", 2, "2026-02-28"),
        ("31-60", 0, "2026-02-28"),
        ("61+", 0, "2026-02-28"),
        ("never contacted", 0, "2026-02-28"),
    ]


def test_deadline_kpi_levels_per_month(demo: Demo) -> None:
    rows = demo.report("kpis")
    columns = ("period", "due", "met", "pending", "percent", "level", "escalated", "rag")
    assert table(rows, *columns) == [
        ("2026-01", 3, 2, 0, "66.7", "minor", False, "amber"),
        ("2026-02", 2, 1, 0, "50.0", "major", False, "red"),
        ("2026-03", 2, 0, 0, "0.0", "major", False, "red"),
    ]


def test_a_kpi_still_in_time_is_pending_not_missed(demo: Demo) -> None:
    """As known on 20 March, B3 (referred 15 March) still had time to enroll."""
    demo.reporter._clock = lambda: dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)
    rows = demo.report("kpis")
    assert table(rows, "period", "due", "met", "pending")[-1] == ("2026-03", 1, 0, 1)


def test_providers_ranked_on_the_declared_score(demo: Demo) -> None:
    rows = demo.report("ranking")
    assert table(rows, "rank", "provider_id", "score_percent", "from_participants") == [
        (1, "alpha", "75.0", 4),
        (2, "beta", "0.0", 3),
    ]


def test_run_rate_forecast_to_the_contract_end(demo: Demo) -> None:
    rows = demo.report("forecast")
    columns = ("stage", "to_date", "monthly_run_rate", "months_remaining")
    assert table(rows, *columns, "forecast_at_contract_end") == [
        ("referral", 7, "2.3", 9, 28),
        ("enrollment", 5, "1.7", 9, 20),
        ("job_start", 3, "1.0", 9, 12),
        ("job_sustained", 1, "0.3", 9, 4),
    ]


def test_outcomes_split_by_barrier_flags(demo: Demo) -> None:
    rows = demo.report("need_groups")
    assert table(rows, "value", "stage", "participants", "share_of_first_stage_percent") == [
        ("false", "referral", 4, "100.0"),
        ("false", "enrollment", 4, "100.0"),
        ("false", "job_start", 2, "50.0"),
        ("false", "job_sustained", 1, "25.0"),
        ("true", "referral", 3, "100.0"),
        ("true", "enrollment", 1, "33.3"),
        ("true", "job_start", 1, "33.3"),
        ("true", "job_sustained", 0, "0.0"),
    ]
    assert {r["attribute"] for r in rows} == {"long_term_unemployed"}


def test_money_accrued_paid_and_capped_against_the_budget(demo: Demo) -> None:
    rows = demo.report("money")
    columns = ("provider_id", "accrued", "paid", "capped", "unpaid", "budget")
    assert table(rows, *columns, "accrued_percent_of_budget") == [
        ("alpha", "500.00", "300.00", "100.00", "200.00", None, None),
        ("beta", "200.00", "0.00", "0.00", "200.00", None, None),
        ("*", "700.00", "300.00", "100.00", "400.00", "10000.00", "7.0"),
    ]


def test_money_for_a_month_before_the_bookings_is_zero(demo: Demo) -> None:
    """Every transaction of the demo is booked in March: February's books are empty, and March
    shows them all in the month as well as to date."""
    february = demo.report("money", month="2026-02")
    assert table(february, "provider_id", "accrued", "paid", "accrued_month") == [
        ("*", "0.00", "0.00", "0.00")
    ]
    march = demo.report("money")
    assert table(march, "provider_id", "accrued_month", "paid_month", "accrued_year_to_date") == [
        ("alpha", "500.00", "300.00", "500.00"),
        ("beta", "200.00", "0.00", "200.00"),
        ("*", "700.00", "300.00", "700.00"),
    ]


def test_as_known_at_leaves_out_what_was_recorded_later(demo: Demo) -> None:
    """Before the late referral and the correction: A4 absent, A2's job start in March."""
    rows = demo.report("funnel", as_known_at=demo.first_batch_known_at)
    assert table(rows, "stage", "month", "quarter_to_date") == [
        ("referral", 2, 6),
        ("enrollment", 1, 4),
        ("job_start", 2, 3),
        ("job_sustained", 1, 1),
    ]


def test_as_known_at_now_gives_the_live_figures_for_every_report(demo: Demo) -> None:
    from services.metrics.reports import REPORTS

    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    demo.reporter._clock = lambda: now
    for name in REPORTS:
        assert demo.report(name, as_known_at=now) == demo.report(name), name


def test_every_report_has_exactly_its_declared_columns(demo: Demo) -> None:
    from services.metrics.reports import COLUMNS, REPORTS

    assert set(COLUMNS) == set(REPORTS)
    for name in REPORTS:
        rows = demo.report(name)
        assert rows, name
        assert all(tuple(row) == COLUMNS[name] for row in rows), name
