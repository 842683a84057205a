"""Why a claim is what it is: its history, its evidence, the participant events it rests on,
and the rule-book version and computation that priced it. Also each participant's history with
the rule-book version in force for each event. Read-only; used by the audit routes."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any
from uuid import UUID

from services.claims.application import ClaimsApplication
from services.claims.claim import Claim
from services.claims.domain import Participant
from shared.feed import catalogue as feed
from shared.feed.envelope import FeedEntry
from shared.identifiers import participant_stream_id
from shared.rules.engine import version_in_effect


def history_rows(entries: list[FeedEntry], versions: dict[int, int]) -> list[dict[str, Any]]:
    """Feed entries as history rows; ``versions`` maps a stream version to a rule-book version."""
    return [
        {
            "position": e.position,
            "recorded_at": e.recorded_at.isoformat(),
            "type": e.type,
            "stream_version": e.stream_version,
            "actor": feed.actor_of(feed.parse(e)),
            "rulebook_version": versions.get(e.stream_version),
            "data": e.data,
        }
        for e in entries
    ]


def participant_history(app: ClaimsApplication, participant: Participant) -> list[dict[str, Any]]:
    """Each event, with the rule-book version in force on the day it says it happened."""
    versions = app.contracts.versions_for(participant.contract_id)
    entries = app.stream_history(participant.id)
    in_force = {}
    for entry in entries:
        event = feed.parse(entry)
        if isinstance(event, feed.EventRecorded | feed.EventCorrected):
            found = version_in_effect(versions, dt.date.fromisoformat(event.occurred_on))
            in_force[entry.stream_version] = found.version if found else None
    return history_rows(entries, {k: v for k, v in in_force.items() if v is not None})


def explain_claim(app: ClaimsApplication, claim: Claim) -> dict[str, Any]:
    contract = app.contracts.get(claim.contract_id)
    document = contract.documents[claim.contract_version - 1]
    outcome = next(o for o in document["outcomes"] if o["id"] == claim.outcome_id)
    participant = app.load(
        participant_stream_id(claim.contract_id, claim.participant_id), Participant
    )
    rests_on = []
    if participant is not None:
        wanted = set(claim.source_event_ids or []) | {claim.trigger_event_id}
        rests_on = [
            row
            for row in participant_history(app, participant)
            if row["data"].get("event_id") in wanted
        ]
    history = app.stream_history(UUID(str(claim.id)))
    return {
        "claim": {
            "claim_id": str(claim.id),
            "contract_id": claim.contract_id,
            "provider_id": claim.provider_id,
            "participant_id": claim.participant_id,
            "outcome_id": claim.outcome_id,
            "occurred_on": claim.occurred_on,
            "amount_minor": claim.amount_minor,
            "currency": claim.currency,
            "status": claim.status.value,
            "tier": claim.tier,
        },
        "rulebook": {
            "contract_id": claim.contract_id,
            "version": claim.contract_version,
            "document_sha256": contract.document_hashes[claim.contract_version - 1],
            "effective_from": document["effective_from"],
            "outcome": outcome,
        },
        "computation": dict(claim.trace),
        "history": history_rows(
            history, {e.stream_version: claim.contract_version for e in history}
        ),
        "evidence": [asdict(e) for e in claim.evidence],
        "participant_events": rests_on,
    }


def as_text(explained: dict[str, Any]) -> str:
    """The same explanation for a person to read."""
    claim, book = explained["claim"], explained["rulebook"]
    lines = [
        f"Claim {claim['claim_id']}",
        f"  {claim['outcome_id']} on {claim['occurred_on']} for participant "
        f"{claim['participant_id']} of provider {claim['provider_id']}",
        f"  amount {claim['amount_minor']} minor units of {claim['currency']}; status "
        f"{claim['status']}; tier {claim['tier'] or '-'}",
        f"Priced under rule book {book['contract_id']} version {book['version']} "
        f"(effective {book['effective_from']}, sha256 {book['document_sha256']})",
        "Computation:",
        *(f"  {key}: {value}" for key, value in explained["computation"].items()),
        "Participant events it rests on:",
        *(
            f"  #{row['position']} {row['data'].get('type')} {row['data'].get('event_id')} on "
            f"{row['data'].get('occurred_on')} recorded {row['recorded_at']} by {row['actor']}"
            for row in explained["participant_events"]
        ),
        "Evidence:",
        *(f"  {e}" for e in explained["evidence"]),
        "History:",
        *(
            f"  #{row['position']} {row['recorded_at']} {row['type']} by {row['actor']}"
            for row in explained["history"]
        ),
    ]
    return "\n".join(lines) + "\n"
