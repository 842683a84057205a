"""Through the claims service, one event per request in any order: the live claims are exactly
what the rule engine derives from the whole history, and every claim a late event broke (an
absence it ended, a window it closed) was retired, not left standing.

The contract is the employment-pathways example: an absence of arrests in the calendar month,
windows, cumulative days and per-period limits.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.auditor.recompute import recompute_claims
from services.claims.application import ClaimsApplication
from services.claims.claim import ClaimStatus
from services.claims.commands import IncomingEvent
from shared.rules.engine import RecordedEvent, RuleBookVersion, derive
from shared.rules.model import parse_rulebook
from tests.claims.helpers import claims_app, replayed
from tests.stores import store_urls

EXAMPLE = Path(__file__).parents[2] / "examples" / "contracts" / "employment-pathways.yaml"
CONTRACT = "employment-pathways"
PROVIDER = "first-step-staffing"
KINDS = {
    "progress_review": st.just({}),
    "arrest": st.just({}),
    "job_offer": st.just({}),
    "job_placement": st.just({"hourly_wage": "16.00"}),
    "job_separation": st.just({}),
    "retention_check": st.just({}),
}
REFERENCES = itertools.count()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClaimsApplication]:
    with store_urls("sqlite", tmp_path_factory.mktemp("arrival")) as urls:
        application = claims_app(urls["claims"])
        application.contracts.register(parse_rulebook(yaml.safe_load(EXAMPLE.read_text())))
        yield application
        application.close()


@st.composite
def histories(draw: st.DrawFn) -> list[IncomingEvent]:
    reference = f"person-{next(REFERENCES)}"
    route = draw(st.sampled_from(["probation", "probation", "self"]))
    referral = IncomingEvent(
        f"{reference}-r", reference, "referral", dt.date(2025, 6, 2), {"referral_route": route}
    )
    events = [referral]
    # reviews and arrests come most often, so months are paid and then broken
    kinds = ["progress_review", "progress_review", "arrest", *sorted(KINDS)]
    for index in range(draw(st.integers(min_value=1, max_value=10))):
        kind = draw(st.sampled_from(kinds))
        day = dt.date(2025, 6, 1) + dt.timedelta(days=draw(st.integers(0, 120)))
        events.append(
            IncomingEvent(f"{reference}-{index}", reference, kind, day, draw(KINDS[kind]))
        )
    return events


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_live_claims_follow_the_whole_history_whatever_the_arrival_order(
    app: ClaimsApplication, data: st.DataObject
) -> None:
    history = data.draw(histories())
    arrival = data.draw(st.permutations(history))
    answers = [
        app.intake.record_events(CONTRACT, PROVIDER, [event], f"provider:{PROVIDER}")[0]
        for event in arrival
    ]
    participant = app.reader.participant(CONTRACT, answers[0].participant_id)
    live = [app.reader.claim(UUID(link["claim_id"])) for link in participant.claims.values()]
    versions = [RuleBookVersion(1, app.contracts.latest_rulebook(CONTRACT))]
    recorded = [RecordedEvent(e.event_id, e.type, e.occurred_on, e.attributes) for e in history]
    expected = derive(versions, recorded).claims
    assert sorted((c.outcome_id, c.trigger_event_id, c.amount_minor) for c in live) == sorted(
        (c.outcome_id, c.trigger_event_id, c.amount_minor) for c in expected
    )
    derived_ids = {claim_id for a in answers for claim_id in a.claim_ids}
    retired_ids = {claim_id for a in answers for claim_id in a.retired_claim_ids}
    assert {str(c.id) for c in live} == derived_ids - retired_ids
    for claim_id in retired_ids:
        assert app.reader.claim(UUID(claim_id)).status is ClaimStatus.VOIDED


KANGAROO = EXAMPLE.parent / "kangaroo-care-dib.yaml"
HOSPITALS = itertools.count()


@pytest.fixture(scope="module")
def kangaroo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClaimsApplication]:
    """Every 2025 quarter has closed: each arrival re-derives its population at once."""
    with store_urls("sqlite", tmp_path_factory.mktemp("kangaroo")) as urls:
        now = dt.datetime(2026, 1, 15, 9, tzinfo=dt.UTC)
        application = claims_app(urls["claims"], clock=lambda: now)
        application.contracts.register(parse_rulebook(yaml.safe_load(KANGAROO.read_text())))
        yield application
        application.close()


@st.composite
def babies(draw: st.DrawFn) -> list[IncomingEvent]:
    hospitals = [f"h{next(HOSPITALS)}", f"h{next(HOSPITALS)}"]
    events = []
    for index in range(draw(st.integers(min_value=1, max_value=8))):
        ref = f"{hospitals[0]}-baby-{index}"
        enrolled_on = dt.date(2025, 5, 1) + dt.timedelta(days=draw(st.integers(0, 120)))
        hospital = draw(st.sampled_from(hospitals))
        enrolment = {"birth_weight_grams": 1500, "hospital": hospital}
        events.append(IncomingEvent(f"{ref}-e", ref, "baby_enrolled", enrolled_on, enrolment))
        if draw(st.booleans()):
            gain = draw(st.sampled_from(["10", "15", "22"]))
            attributes = {"appropriate_gain": True, "gain_g_per_kg_day": gain}
            weighed_on = enrolled_on + dt.timedelta(days=30)
            events.append(IncomingEvent(f"{ref}-w", ref, "weight_assessed", weighed_on, attributes))
    return events


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_population_claims_follow_the_members_whatever_the_arrival_order(
    kangaroo: ClaimsApplication, data: st.DataObject
) -> None:
    """Babies of two hospitals across two quarters, posted one event at a time in any order:
    the auditor's recomputation from the whole histories finds every population claim as the
    service left it."""
    arrival = data.draw(st.permutations(data.draw(babies())))
    for event in arrival:
        kangaroo.intake.record_events(
            "kangaroo-care-dib", "kmc-consortium", [event], "provider:kmc"
        )
    model = replayed(kangaroo)
    assert recompute_claims(model) == []
