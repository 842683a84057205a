"""Population outcomes through the claims service, on both stores: derived when the period
closes, re-derived by late events and corrections after it, exactly once.

The kangaroo-care example: per hospital and quarter, 10,000.00 when at least 40 babies were
enrolled; and 80.00 per baby enrolled x 1.2 when at least 80 % gained 15 g/kg/day, x 1.0 at
60-80 %, nothing below. Quarter 2025-Q2 ends on 30 June and closes 30 days later, on 30 July.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml

from services.auditor.recompute import recompute_claims
from services.claims.application import ClaimsApplication
from services.claims.claim import ClaimStatus
from services.claims.closer import PopulationCloser
from services.claims.commands import IncomingEvent
from services.claims.whatif import what_if
from shared.feed.lease import FileLease
from shared.feed.models import ClaimsFeedModel
from shared.rules.model import parse_rulebook
from tests.claims.helpers import claims_app, ips_rulebook, replayed

EXAMPLE = Path(__file__).parents[2] / "examples" / "contracts" / "kangaroo-care-dib.yaml"
CONTRACT = "kangaroo-care-dib"
PROVIDER = "kmc-consortium"
ACTOR = f"provider:{PROVIDER}"
COUNT = "metric_a_quarterly_enrolment"
SHARE = "metric_c_quarterly_weight_gain"


@dataclasses.dataclass
class Clock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2025, 7, 15, 9, tzinfo=dt.UTC))


@pytest.fixture
def app(urls: dict[str, str], clock: Clock) -> Iterator[ClaimsApplication]:
    application = claims_app(urls["claims"], clock=clock)
    application.contracts.register(parse_rulebook(yaml.safe_load(EXAMPLE.read_text())))
    yield application
    application.close()


def enrolled(ref: str, hospital: str, day: dt.date) -> IncomingEvent:
    attributes: dict[str, Any] = {"birth_weight_grams": 1500, "hospital": hospital}
    return IncomingEvent(f"{ref}-e", ref, "baby_enrolled", day, attributes)


def weighed(ref: str, gain: str, day: dt.date) -> IncomingEvent:
    attributes = {"appropriate_gain": True, "gain_g_per_kg_day": gain}
    return IncomingEvent(f"{ref}-w", ref, "weight_assessed", day, attributes)


def population_claims(app: ClaimsApplication, claim_ids: list[str]) -> list[tuple[Any, ...]]:
    claims = [app.reader.claim(UUID(c)) for c in claim_ids]
    return sorted(
        (
            c.outcome_id,
            c.trace["population"]["group"],
            c.trace["population"]["period"],
            c.amount_minor,
            c.status.value,
        )
        for c in claims
    )


def three_babies(app: ClaimsApplication) -> None:
    events = [
        enrolled("b1", "h1", dt.date(2025, 4, 10)),
        weighed("b1", "18", dt.date(2025, 5, 20)),
        enrolled("b2", "h1", dt.date(2025, 5, 2)),
        weighed("b2", "15", dt.date(2025, 6, 12)),
        enrolled("b3", "h1", dt.date(2025, 6, 28)),
        weighed("b3", "12.5", dt.date(2025, 7, 10)),
    ]
    results = app.intake.record_events(CONTRACT, PROVIDER, events, ACTOR)
    assert [c for r in results for c in r.claim_ids] == []  # the quarter has not closed


def test_a_population_is_derived_when_its_period_closes_and_only_once(
    app: ClaimsApplication, clock: Clock
) -> None:
    three_babies(app)
    assert app.population_closing.close(CONTRACT, "admin:a").closed == 0  # 15 July: still open
    clock.set(dt.date(2025, 7, 30))
    closing = app.population_closing.close(CONTRACT, "admin:a")
    # 2 of 3 gained enough: 66.67 % -> x 1.0: 80.00 x 3 babies = 240.00; 3 < 40: no metric A
    assert closing.closed == 2  # h1's two populations (one per outcome), one earning a claim
    assert population_claims(app, closing.claim_ids) == [
        (SHARE, "h1", "2025-Q2", 24_000, "submitted"),
    ]
    head = app.head_position()
    assert app.population_closing.close(CONTRACT, "admin:a").closed == 0
    assert app.head_position() == head


def test_a_late_event_after_close_replaces_the_claim(app: ClaimsApplication, clock: Clock) -> None:
    three_babies(app)
    clock.set(dt.date(2025, 8, 2))
    [first] = app.population_closing.close(CONTRACT, "admin:a").claim_ids
    # b3's assessment is corrected: 16 g/kg/day. All three gained enough: 100 % -> x 1.2
    corrected = app.corrections.correct_event(
        CONTRACT, PROVIDER, weighed("b3", "16", dt.date(2025, 7, 10)), ACTOR, "misread scale"
    )
    assert corrected.retired_claim_ids == [first]
    assert population_claims(app, corrected.derived_claim_ids) == [
        (SHARE, "h1", "2025-Q2", 28_800, "submitted"),  # 80.00 x 1.2 x 3
    ]
    assert app.reader.claim(UUID(first)).status is ClaimStatus.VOIDED
    # a fourth baby of the quarter, posted late: 3 of 4 met = 75 % -> x 1.0: 80.00 x 4 = 320.00
    [late] = app.intake.record_events(
        CONTRACT, PROVIDER, [enrolled("b4", "h1", dt.date(2025, 6, 30))], ACTOR
    )
    assert population_claims(app, late.claim_ids) == [(SHARE, "h1", "2025-Q2", 32_000, "submitted")]
    assert late.retired_claim_ids == corrected.derived_claim_ids


def test_a_member_who_moves_group_leaves_one_population_and_joins_another(
    app: ClaimsApplication, clock: Clock
) -> None:
    three_babies(app)
    clock.set(dt.date(2025, 8, 2))
    app.population_closing.close(CONTRACT, "admin:a")
    moved = app.corrections.correct_event(
        CONTRACT, PROVIDER, enrolled("b3", "h2", dt.date(2025, 6, 28)), ACTOR, "wrong hospital"
    )
    # h1 keeps b1 and b2 (both met: 100 % -> 80.00 x 1.2 x 2 = 192.00); h2 has b3 alone, who
    # did not gain enough (0 %): nothing
    assert population_claims(app, moved.derived_claim_ids) == [
        (SHARE, "h1", "2025-Q2", 19_200, "submitted"),
    ]
    assert len(moved.retired_claim_ids) == 1


def test_forty_babies_in_a_quarter_pay_the_hospital(app: ClaimsApplication, clock: Clock) -> None:
    events = []
    for index in range(40):
        ref = f"baby-{index:02d}"
        day = dt.date(2025, 4, 1) + dt.timedelta(days=index)
        events += [enrolled(ref, "h9", day), weighed(ref, "20" if index < 32 else "10", day)]
    app.intake.record_events(CONTRACT, PROVIDER, events, ACTOR)
    clock.set(dt.date(2025, 7, 30))
    closing = app.population_closing.close(CONTRACT, "admin:a")
    # 40 babies: 10,000.00; 32 of 40 met = 80 % -> x 1.2: 80.00 x 1.2 x 40 = 3,840.00
    assert population_claims(app, closing.claim_ids) == [
        (COUNT, "h9", "2025-Q2", 1_000_000, "submitted"),
        (SHARE, "h9", "2025-Q2", 384_000, "submitted"),
    ]


def test_populations_are_not_on_the_public_feed(app: ClaimsApplication, clock: Clock) -> None:
    three_babies(app)
    clock.set(dt.date(2025, 7, 30))
    app.population_closing.close(CONTRACT, "admin:a")
    types = {entry.type for entry in app.read_feed(0, 1000)}
    assert not any("population" in t for t in types)
    assert "claim.derived" in types


def feed_model(app: ClaimsApplication) -> ClaimsFeedModel:
    model = ClaimsFeedModel()
    for entry in app.read_feed(0, 10_000):
        model.apply(entry)
    return model


def test_the_auditor_recomputes_population_claims_from_the_feed_alone(
    app: ClaimsApplication, clock: Clock
) -> None:
    three_babies(app)
    clock.set(dt.date(2025, 8, 2))
    app.population_closing.close(CONTRACT, "admin:a")
    app.corrections.correct_event(
        CONTRACT, PROVIDER, enrolled("b3", "h2", dt.date(2025, 6, 28)), ACTOR, "wrong hospital"
    )
    model = feed_model(app)
    assert recompute_claims(model) == []
    [live] = [c for c in model.claims.values() if c.outcome_id == SHARE and c.status != "voided"]
    live.amount_minor += 1  # what a tampered book would show
    [difference] = recompute_claims(model)
    assert "amount_minor is 19201; the rules give 19200" in str(difference)


def test_what_if_prices_population_outcomes_under_a_draft(
    app: ClaimsApplication, clock: Clock
) -> None:
    three_babies(app)
    clock.set(dt.date(2025, 8, 2))
    app.population_closing.close(CONTRACT, "admin:a")
    document = yaml.safe_load(EXAMPLE.read_text())
    share = next(o for o in document["outcomes"] if o["id"] == SHARE)
    share["price"] = "100.00"
    result = what_if(app.read_lean, parse_rulebook(document), CONTRACT)
    tally = result.by_provider_outcome[(PROVIDER, SHARE)]
    # live: 80.00 x 3 = 240.00; the draft: 100.00 x 3 = 300.00
    assert (tally.actual_minor, tally.what_if_minor, tally.differing_claims) == (
        24_000,
        30_000,
        1,
    )


def test_the_closer_closes_what_has_closed_in_every_contract_on_its_own(
    app: ClaimsApplication, clock: Clock, tmp_path: Path
) -> None:
    three_babies(app)
    lease = FileLease(tmp_path / "store.sqlite", "claims-population-closer")
    closer = PopulationCloser(
        app.population_closing,
        app.contracts,
        lambda: ["ips-none", CONTRACT],
        lease,
        interval_s=0.01,
    )
    app.contracts.register(ips_rulebook().model_copy(update={"contract_id": "ips-none"}))
    assert closer.close_all() == 0  # 15 July: nothing has closed
    clock.set(dt.date(2025, 7, 30))
    closer.start()
    try:
        assert closer.wait_for_rounds(2, timeout_s=10.0)
    finally:
        closer.stop()
    assert app.population_closing.close(CONTRACT, "admin:a").closed == 0  # the closer did it
    derived = [e.stream_id for e in app.read_feed(0, 1_000) if e.type == "claim.derived"]
    assert population_claims(app, derived) == [(SHARE, "h1", "2025-Q2", 24_000, "submitted")]


def test_an_approved_amendment_reprices_a_closed_population(
    app: ClaimsApplication, clock: Clock
) -> None:
    three_babies(app)
    clock.set(dt.date(2025, 8, 2))
    [first] = app.population_closing.close(CONTRACT, "admin:a").claim_ids
    text = EXAMPLE.read_text()
    per_baby = 'price: "80.00"\n    price_per'
    assert per_baby in text
    text = text.replace(per_baby, 'price: "100.00"\n    price_per').replace(
        'effective_from: "2025-01-01"', 'effective_from: "2025-04-01"'
    )
    proposed = app.amendments.propose(
        CONTRACT, parse_rulebook(yaml.safe_load(text)), "admin:alice", "per baby 100.00"
    )
    assert (proposed.preview["differing_claims"], proposed.preview["difference_minor"]) == (
        1, 6_000
    )  # fmt: skip
    app.amendments.approve(
        CONTRACT, proposed.amendment_id, proposed.preview["preview_id"], "admin:bob"
    )
    while app.amendments.apply_batch(CONTRACT, proposed.amendment_id):
        pass
    done = app.amendments.get(CONTRACT, proposed.amendment_id)
    assert (done.status, done.progress["participants"], done.progress["populations"]) == (
        "applied", 3, 2
    )  # fmt: skip
    assert app.reader.claim(UUID(first)).status is ClaimStatus.VOIDED
    model = replayed(app)
    live = [c for c in model.live_claims() if c.outcome_id == SHARE]
    assert [(c.amount_minor, c.contract_version) for c in live] == [(30_000, 2)]  # 100.00 x 3
    assert recompute_claims(model) == []
