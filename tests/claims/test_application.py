"""Claims use cases on both stores: intake, derivation, idempotency, decisions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import pytest

from services.claims.application import ClaimsApplication
from services.claims.claim import ClaimStatus
from services.claims.commands import IncomingEvent
from services.claims.errors import (
    ClaimTransitionRefused,
    ContractClosed,
    ContractConflict,
    EventIdReused,
    EventRejected,
    ProviderNotInContract,
)
from shared.rules.model import Calendar
from tests.claims.helpers import (
    NOW,
    OTHER_PROVIDER,
    PROVIDER,
    claims_app,
    ips_rulebook,
    story_events,
)

ACTOR = f"provider:{PROVIDER}"


@pytest.fixture
def app(claims: ClaimsApplication) -> ClaimsApplication:
    return claims


def claim_summary(app: ClaimsApplication, claim_ids: list[str]) -> list[tuple[str, int, str]]:
    from uuid import UUID

    claims = [app.reader.claim(UUID(i)) for i in claim_ids]
    return sorted((c.outcome_id, c.amount_minor, c.status.value) for c in claims)


def test_the_story_derives_three_priced_claims(app: ClaimsApplication) -> None:
    results = app.intake.record_events("ips-employment", PROVIDER, story_events(), ACTOR)
    claim_ids = [c for r in results for c in r.claim_ids]
    assert claim_summary(app, claim_ids) == [
        ("engagement", 50_000, "submitted"),
        ("job_start", 150_000, "submitted"),
        ("sustainment_13_weeks", 250_000, "submitted"),
    ]
    assert len({r.participant_id for r in results}) == 1
    assert results[0].participant_id.startswith("p_")
    assert "case-0042" not in results[0].participant_id


def test_registering_the_same_document_again_changes_nothing(app: ClaimsApplication) -> None:
    head = app.head_position()
    assert app.contracts.register(ips_rulebook()) == (1, False)
    assert app.head_position() == head


def test_a_new_version_must_take_effect_later(app: ClaimsApplication) -> None:
    earlier = ips_rulebook().model_copy(update={"name": "renamed"})
    head = app.head_position()
    with pytest.raises(ContractConflict):
        app.contracts.register(earlier)
    assert app.head_position() == head


def test_a_retried_event_gets_the_first_answer_and_records_nothing(app: ClaimsApplication) -> None:
    [first] = app.intake.record_events("ips-employment", PROVIDER, story_events()[:2], ACTOR)[1:]
    head = app.head_position()
    [again] = app.intake.record_events("ips-employment", PROVIDER, [story_events()[1]], ACTOR)
    assert dataclasses.replace(first, created=False) == again
    assert app.head_position() == head


def test_a_reused_event_id_with_another_body_is_refused_and_changes_nothing(
    app: ClaimsApplication,
) -> None:
    app.intake.record_events("ips-employment", PROVIDER, story_events()[:1], ACTOR)
    head = app.head_position()
    changed = dataclasses.replace(story_events()[0], participant_ref="someone-else")
    with pytest.raises(EventIdReused):
        app.intake.record_events("ips-employment", PROVIDER, [changed], ACTOR)
    assert app.head_position() == head


def test_a_batch_with_one_bad_event_records_none_of_them(app: ClaimsApplication) -> None:
    events = story_events()
    events[2] = dataclasses.replace(events[2], attributes={"hours_per_week": "twenty"})
    head = app.head_position()
    with pytest.raises(EventRejected) as caught:
        app.intake.record_events("ips-employment", PROVIDER, events, ACTOR)
    assert [p.field for p in caught.value.problems] == ["events.2.attributes.hours_per_week"]
    assert app.head_position() == head


def test_a_provider_outside_the_contract_is_refused(app: ClaimsApplication) -> None:
    with pytest.raises(ProviderNotInContract):
        app.intake.record_events(
            "ips-employment", "stranger", story_events()[:1], "provider:stranger"
        )


def test_the_same_reference_at_two_providers_is_two_participants(app: ClaimsApplication) -> None:
    [a] = app.intake.record_events("ips-employment", PROVIDER, story_events()[:1], ACTOR)
    [b] = app.intake.record_events("ips-employment", OTHER_PROVIDER, story_events()[:1], ACTOR)
    assert a.participant_id != b.participant_id


def live_claims(app: ClaimsApplication, participant_id: str) -> set[tuple[str, ...]]:
    participant = app.reader.participant("ips-employment", participant_id)
    from uuid import UUID

    claims = [app.reader.claim(UUID(link["claim_id"])) for link in participant.claims.values()]
    return {
        (str(c.id), c.outcome_id, str(c.amount_minor), c.trigger_event_id, c.occurred_on)
        for c in claims
    }


@pytest.mark.parametrize(
    "order", list(itertools.permutations(range(4)))[::5], ids=lambda o: "".join(map(str, o))
)
def test_arrival_order_does_not_change_the_claims(
    app: ClaimsApplication, order: tuple[int, ...]
) -> None:
    in_order = app.intake.record_events(
        "ips-employment", PROVIDER, story_events("ref-a", "a"), ACTOR
    )
    shuffled_events = [story_events("ref-b", "b")[i] for i in order]
    shuffled = [
        app.intake.record_events("ips-employment", PROVIDER, [event], ACTOR)[0]
        for event in shuffled_events
    ]
    expected = live_claims(app, in_order[0].participant_id)
    actual = live_claims(app, shuffled[0].participant_id)

    def comparable(claims: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
        # claim ids and trigger ids differ between the two participants; the rest must not
        return {(outcome, amount, occurred_on) for _, outcome, amount, _, occurred_on in claims}

    assert comparable(actual) == comparable(expected)
    assert len(actual) == 3


def test_a_late_earlier_trigger_voids_and_replaces_the_claim(app: ClaimsApplication) -> None:
    events = story_events()
    late_start = dataclasses.replace(
        events[2], event_id="ev-late", occurred_on=events[1].occurred_on
    )
    first = app.intake.record_events("ips-employment", PROVIDER, events[:3], ACTOR)
    [job_start_claim] = first[2].claim_ids
    app.intake.record_events("ips-employment", PROVIDER, [late_start], ACTOR)
    from uuid import UUID

    assert app.reader.claim(UUID(job_start_claim)).status is ClaimStatus.VOIDED
    live = live_claims(app, first[0].participant_id)
    assert {(c[1], c[3]) for c in live} == {("engagement", "ev-2"), ("job_start", "ev-late")}


def test_verify_then_reject_is_refused_and_changes_nothing(app: ClaimsApplication) -> None:
    from uuid import UUID

    results = app.intake.record_events("ips-employment", PROVIDER, story_events()[:2], ACTOR)
    claim_id = UUID(results[1].claim_ids[0])
    app.verification.verify(claim_id, "verifier:v", "seen")
    head = app.head_position()
    with pytest.raises(ClaimTransitionRefused):
        app.verification.reject(claim_id, "verifier:v", "duplicate", "changed my mind")
    assert app.head_position() == head
    assert app.reader.claim(claim_id).status is ClaimStatus.VERIFIED


def test_feed_entries_are_public_plain_json(app: ClaimsApplication) -> None:
    app.intake.record_events("ips-employment", PROVIDER, story_events()[:2], ACTOR)
    entries = app.read_feed(0, 100)
    assert [e.type for e in entries] == [
        "contract.registered",
        "participant.registered",
        "participant.event_recorded",
        "participant.event_recorded",
        "claim.derived",
        "claim.submitted",
    ]
    assert [e.position for e in entries] == sorted(e.position for e in entries)
    assert {(e.type, e.schema_version) for e in entries} == {
        ("contract.registered", 1),
        ("participant.registered", 1),
        ("participant.event_recorded", 2),
        ("claim.derived", 1),
        ("claim.submitted", 1),
    }
    assert entries[2].data["personal_sealed"] is None
    derived, submitted = entries[-2].data, entries[-1].data
    assert derived["amount_minor"] == 50_000 and derived["status"] == "awaiting_evidence"
    assert submitted["status"] == "submitted" and submitted["sampled"] is False
    assert app.read_feed(entries[1].position, 2) == entries[2:4]


def test_events_in_the_future_are_refused(app: ClaimsApplication) -> None:
    import datetime as dt

    future = IncomingEvent("f-1", "case-9", "referral", dt.date(2027, 1, 1), {})
    with pytest.raises(EventRejected):
        app.intake.record_events("ips-employment", PROVIDER, [future], ACTOR)


def test_a_late_earlier_event_lists_the_claims_it_completed(app: ClaimsApplication) -> None:
    referral, enrollment = story_events()[:2]
    [first] = app.intake.record_events("ips-employment", PROVIDER, [enrollment], ACTOR)
    assert first.claim_ids == []  # engagement needs a referral first
    # the referral arrives late: it completes the enrollment's engagement claim
    [late] = app.intake.record_events("ips-employment", PROVIDER, [referral], ACTOR)
    assert claim_summary(app, late.claim_ids) == [("engagement", 50_000, "submitted")]
    [again] = app.intake.record_events("ips-employment", PROVIDER, [referral], ACTOR)
    assert again == dataclasses.replace(late, created=False)


def test_an_answer_lists_the_claims_its_event_retired(app: ClaimsApplication) -> None:
    events = story_events()
    late_start = dataclasses.replace(
        events[2], event_id="ev-late", occurred_on=events[1].occurred_on
    )
    [*_, start] = app.intake.record_events("ips-employment", PROVIDER, events[:3], ACTOR)
    [late] = app.intake.record_events("ips-employment", PROVIDER, [late_start], ACTOR)
    assert late.retired_claim_ids == start.claim_ids
    assert claim_summary(app, late.claim_ids) == [("job_start", 150_000, "submitted")]
    assert claim_summary(app, late.retired_claim_ids) == [("job_start", 150_000, "voided")]


def test_an_amendment_cannot_move_the_reporting_year(app: ClaimsApplication) -> None:
    later = ips_rulebook().model_copy(
        update={
            "effective_from": dt.date(2027, 1, 1),
            "calendar": Calendar(year_starts=4),
        }
    )
    head = app.head_position()
    with pytest.raises(ContractConflict, match="reporting year"):
        app.contracts.register(later)
    assert app.head_position() == head


def test_a_closed_contract_takes_no_new_events_but_still_takes_corrections(
    urls: dict[str, str],
) -> None:
    closing = ips_rulebook().model_copy(
        update={
            "contract_id": "closing-contract",
            "contract_end": dt.date(2026, 10, 31),
            "calendar": Calendar(claims_until=dt.date(2026, 11, 22)),  # the day before NOW
        }
    )
    early = claims_app(urls["claims"], clock=lambda: NOW - dt.timedelta(days=30))
    late = claims_app(urls["claims"])
    try:
        early.contracts.register(closing)
        [recorded] = early.intake.record_events(
            "closing-contract", PROVIDER, story_events()[:2], ACTOR
        )[1:]
        head = late.head_position()
        with pytest.raises(ContractClosed, match="took its last events on 2026-11-22"):
            late.intake.record_events("closing-contract", PROVIDER, story_events()[2:3], ACTOR)
        assert late.head_position() == head
        late.corrections.retract_event(
            "closing-contract", PROVIDER, recorded.event_id, ACTOR, "entered twice"
        )
        assert late.head_position() > head
    finally:
        early.close()
        late.close()
