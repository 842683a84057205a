"""Corrections, retractions, amendments and subjects, through the application on both stores."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from uuid import UUID

import pytest
import yaml

from services.claims.application import ClaimsApplication
from services.claims.claim import ClaimStatus
from services.claims.commands import IncomingEvent
from services.claims.domain import Participant
from services.claims.errors import ContractConflict, EventNotFound, EventRejected, EventRetracted
from shared.rules.model import parse_rulebook
from tests.claims.helpers import (
    OTHER_PROVIDER,
    PROVIDER,
    TODAY,
    claims_app,
    ips_rulebook,
    story_events,
)

ACTOR = f"provider:{PROVIDER}"
EXAMPLES = Path(__file__).parents[2] / "examples" / "contracts"


def statuses(app: ClaimsApplication, claim_ids: list[str]) -> list[str]:
    return [app.reader.claim(UUID(c)).status.value for c in claim_ids]


def live(app: ClaimsApplication, participant_id: str) -> dict[str, tuple[int, str]]:
    participant = app.reader.participant("ips-employment", participant_id)
    claims = [app.reader.claim(UUID(link["claim_id"])) for link in participant.claims.values()]
    return {c.outcome_id: (c.amount_minor, c.status.value) for c in claims}


def test_correcting_hours_reprices_the_sustainment(claims: ClaimsApplication) -> None:
    results = claims.intake.record_events("ips-employment", PROVIDER, story_events(), ACTOR)
    [old_sustainment] = results[3].claim_ids
    job_start = dataclasses.replace(story_events()[2], attributes={"hours_per_week": 12})
    corrected = claims.corrections.correct_event(
        "ips-employment", PROVIDER, job_start, ACTOR, "hours misread"
    )
    assert corrected.changed
    assert corrected.retired_claim_ids == [old_sustainment]
    assert len(corrected.derived_claim_ids) == 1
    assert statuses(claims, [old_sustainment]) == ["voided"]
    assert live(claims, results[0].participant_id)["sustainment_13_weeks"] == (120_000, "submitted")


def test_the_same_correction_twice_changes_nothing(claims: ClaimsApplication) -> None:
    claims.intake.record_events("ips-employment", PROVIDER, story_events(), ACTOR)
    job_start = dataclasses.replace(story_events()[2], attributes={"hours_per_week": 12})
    claims.corrections.correct_event("ips-employment", PROVIDER, job_start, ACTOR, "hours misread")
    head = claims.head_position()
    again = claims.corrections.correct_event(
        "ips-employment", PROVIDER, job_start, ACTOR, "hours misread"
    )
    assert not again.changed and again.derived_claim_ids == again.retired_claim_ids == []
    assert claims.head_position() == head


def test_retracting_a_verified_claims_source_asks_for_a_reversal(claims: ClaimsApplication) -> None:
    results = claims.intake.record_events("ips-employment", PROVIDER, story_events(), ACTOR)
    [job_claim] = results[2].claim_ids
    [sustain_claim] = results[3].claim_ids
    claims.verification.verify(UUID(job_claim), "verifier:v", "pay slip")
    retracted = claims.corrections.retract_event(
        "ips-employment", PROVIDER, "ev-3", ACTOR, "entered for the wrong person"
    )
    assert sorted(retracted.retired_claim_ids) == sorted([job_claim, sustain_claim])
    assert statuses(claims, [job_claim, sustain_claim]) == ["reversal_requested", "voided"]
    assert set(live(claims, results[0].participant_id)) == {"engagement"}
    participant = claims.reader.participant("ips-employment", results[0].participant_id)
    assert [e["event_id"] for e in participant.events if e.get("retracted")] == ["ev-3"]
    assert len(participant.events) == 4  # history keeps everything


def test_a_retracted_event_cannot_be_corrected_and_a_second_retraction_is_a_no_op(
    claims: ClaimsApplication,
) -> None:
    claims.intake.record_events("ips-employment", PROVIDER, story_events(), ACTOR)
    claims.corrections.retract_event("ips-employment", PROVIDER, "ev-4", ACTOR, "duplicate")
    head = claims.head_position()
    assert not claims.corrections.retract_event(
        "ips-employment", PROVIDER, "ev-4", ACTOR, "again"
    ).changed
    with pytest.raises(EventRetracted):
        claims.corrections.correct_event(
            "ips-employment", PROVIDER, story_events()[3], ACTOR, "undo"
        )
    assert claims.head_position() == head


def test_only_the_recording_provider_can_amend_its_event(claims: ClaimsApplication) -> None:
    claims.intake.record_events("ips-employment", PROVIDER, story_events(), ACTOR)
    with pytest.raises(EventNotFound):
        claims.corrections.retract_event(
            "ips-employment", OTHER_PROVIDER, "ev-1", "provider:other", "mine?"
        )
    with pytest.raises(EventNotFound):
        claims.corrections.retract_event("ips-employment", PROVIDER, "nope", ACTOR, "missing")


def test_a_bad_correction_is_refused_and_changes_nothing(claims: ClaimsApplication) -> None:
    claims.intake.record_events("ips-employment", PROVIDER, story_events(), ACTOR)
    head = claims.head_position()
    bad = dataclasses.replace(story_events()[2], attributes={"hours_per_week": "many"})
    with pytest.raises(EventRejected):
        claims.corrections.correct_event("ips-employment", PROVIDER, bad, ACTOR, "oops")
    assert claims.head_position() == head


def test_an_amendment_must_not_reach_back_over_recorded_history(claims: ClaimsApplication) -> None:
    document = ips_rulebook().canonical()
    document["outcomes"][1]["price"] = "1750.00"
    document["effective_from"] = (TODAY + dt.timedelta(days=1)).isoformat()
    with pytest.raises(ContractConflict, match="on or after"):
        claims.contracts.register(parse_rulebook(document))
    document["effective_from"] = (TODAY + dt.timedelta(days=2)).isoformat()
    assert claims.contracts.register(parse_rulebook(document)) == (2, True)
    assert claims.contracts.get("ips-employment").current_version == 2


def test_events_about_an_entity_are_kept_apart_from_a_person_with_the_same_ref(
    urls: dict[str, str],
) -> None:
    app = claims_app(urls["claims"])
    try:
        book = parse_rulebook(yaml.safe_load((EXAMPLES / "kangaroo-care-dib.yaml").read_text()))
        app.contracts.register(book)
        hospital = IncomingEvent(
            "h1", "ref-7", "hospital_trained", dt.date(2025, 2, 1), {"staff_trained": 20}
        )
        baby = IncomingEvent(
            "b1", "ref-7", "baby_enrolled", dt.date(2025, 2, 1), {"birth_weight_grams": 1500}
        )
        [h, b] = app.intake.record_events(
            "kangaroo-care-dib", "kmc-consortium", [hospital, baby], "provider:kmc"
        )
        assert h.participant_id != b.participant_id
        assert len(h.claim_ids) == 1 and b.claim_ids == []
        participant = app.reader.participant("kangaroo-care-dib", h.participant_id)
        assert isinstance(participant, Participant) and participant.subject == "hospital"
        assert app.reader.claim(UUID(h.claim_ids[0])).amount_minor == 2_500_000
        assert app.reader.claim(UUID(h.claim_ids[0])).status is ClaimStatus.SUBMITTED
    finally:
        app.close()


def test_correcting_an_event_back_derives_a_new_claim_beside_the_voided_one(
    claims: ClaimsApplication,
) -> None:
    """Found by schemathesis: the restored derivation equals the voided claim's content."""
    results = claims.intake.record_events("ips-employment", PROVIDER, story_events(), ACTOR)
    [first] = results[3].claim_ids
    original = story_events()[2]
    part_time = dataclasses.replace(original, attributes={"hours_per_week": 12})
    claims.corrections.correct_event("ips-employment", PROVIDER, part_time, ACTOR, "misread")
    restored = claims.corrections.correct_event(
        "ips-employment", PROVIDER, original, ACTOR, "it was right"
    )
    [again] = [c for c in restored.derived_claim_ids if c != first]
    assert claims.reader.claim(UUID(first)).status.value == "voided"
    assert (
        claims.reader.claim(UUID(again)).amount_minor
        == claims.reader.claim(UUID(first)).amount_minor
        == 250_000
    )
    assert claims.reader.claim(UUID(again)).generation == 1
