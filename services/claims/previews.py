"""An amendment's preview: the what-if of its draft as the contract's next version, with an id
that digests what the amendment would do, and how a preview is brought up to date at approval
without replaying the whole feed when what arrived since cannot change that.

The preview's figures per participant add up (a participant's claims are derived from its own
history), except where the contract's caps or populations join participants together: through
the caps only verified claims are booked, and a population's claim depends on all its members.
So when everything recorded since the preview is new participants of the contract (and events
of other contracts), none of them verified, none of them in a population, and the draft prices
each of their claims as the claims they have now, the amendment does the same as it did: the
preview's id holds, and its totals are the old ones plus what the newcomers add. Anything else
(an event of a participant the preview already counted, a claim verified, voided or reversed,
a rule-book version registered, populations, more than :data:`MAX_CATCH_UP` entries) and the
preview is computed again from the whole feed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict
from typing import Any

from services.claims.whatif import Booked, Tally, WhatIf, replayed_entries, what_if_on
from shared.feed import catalogue as feed
from shared.feed.models import ClaimsFeedModel
from shared.identifiers import canonical_sha256
from shared.rules.engine import RuleBookVersion
from shared.rules.model import RuleBook

MAX_CATCH_UP = 10_000  # entries since a preview read to bring it up to date; beyond, replay all

ReadLean = Callable[[int, int, Collection[str]], Sequence[Any]]


def preview_of(result: WhatIf) -> dict[str, Any]:
    """A what-if result as a preview, with an id that is a digest of what the amendment would
    do (the claims it changes and by how much, per provider and outcome and through the caps),
    not of every figure: a new participant whose claims it leaves as they are does not make an
    approved preview stale, so a contract that keeps taking events stays approvable."""
    booked = result.booked
    effect = {
        "draft_sha256": result.draft_sha256,
        "differing_claims": result.differing_claims,
        "difference_minor": result.difference_minor,
        "by_provider_outcome": [
            [provider, outcome, tally.differing_claims, tally.what_if_minor - tally.actual_minor]
            for (provider, outcome), tally in result.by_provider_outcome.items()
            if tally.differing_claims or tally.what_if_minor != tally.actual_minor
        ],
        "booked": [
            booked.what_if_accrued_minor - booked.actual_accrued_minor,
            booked.what_if_capped_minor - booked.actual_capped_minor,
        ],
        "examples": result.examples,
    }
    body = {
        "draft_sha256": result.draft_sha256,
        "participants": result.participants,
        "differing_claims": result.differing_claims,
        "difference_minor": result.difference_minor,
        "booked": asdict(result.booked),
        "by_provider_outcome": [
            {"provider_id": provider, "outcome_id": outcome, **vars(tally)}
            for (provider, outcome), tally in result.by_provider_outcome.items()
        ],
        "examples": result.examples,
    }
    return {"preview_id": "pv_" + canonical_sha256(effect)[:32], **body}


def caught_up(
    preview: dict[str, Any],
    read_lean: ReadLean,
    versions: list[RuleBookVersion],
    draft: RuleBook,
) -> dict[str, Any] | None:
    """``preview`` brought up to the feed's end from what was recorded since its position, or
    None where that cannot be known without replaying the whole feed (see the module)."""
    contract_id = draft.contract_id
    if any(v.rulebook.population_outcomes() for v in versions) or draft.population_outcomes():
        return None
    entries = _since(read_lean, preview["position"])
    if entries is None or not _only_newcomers(entries, contract_id):
        return None
    model = ClaimsFeedModel()
    model.rulebooks[contract_id] = [version.rulebook.canonical() for version in versions]
    for entry in entries:
        model.apply(entry)
    added = what_if_on(model, draft, contract_id, as_amendment=True)
    if added.differing_claims or added.difference_minor or added.booked != Booked(0, 0, 0, 0):
        return None
    return {
        **preview,
        "participants": preview["participants"] + added.participants,
        "by_provider_outcome": _summed(preview["by_provider_outcome"], added),
        "position": entries[-1].position if entries else preview["position"],
    }


def _since(read_lean: ReadLean, position: int) -> list[Any] | None:
    """What a replay reads, recorded after ``position``; None if more than the bound."""
    found: list[Any] = []
    for entry in replayed_entries(read_lean, position):
        if len(found) == MAX_CATCH_UP:
            return None
        found.append(entry)
    return found


def _only_newcomers(entries: Sequence[Any], contract_id: str) -> bool:
    """Whether every entry is of a participant registered among them (or of a claim derived
    among them), with no claim of the contract moved on from derived, nor its rule book
    changed. An entry about anything older could change what the amendment does."""
    registered: set[str] = set()  # participant streams registered among them
    people: set[str] = set()  # and their participant ids, as claims name them
    claims: dict[str, str] = {}  # claim stream -> contract, for claims derived among them
    for entry in entries:
        if entry.type in feed.CONTRACT_TYPES:
            published = feed.parse(entry)
            assert isinstance(published, feed.RuleBookPublished)
            if published.terms().contract_id == contract_id:
                return False
        elif entry.type == feed.ParticipantRegistered.TYPE:
            registered.add(entry.stream_id)
            people.add(feed.ParticipantRegistered.of(entry).participant_id)
        elif entry.type == feed.ClaimDerived.TYPE:
            derived = feed.ClaimDerived.of(entry)
            if derived.contract_id == contract_id and derived.participant_id not in people:
                return False
            claims[entry.stream_id] = derived.contract_id
        elif entry.type in feed.CLAIM_TRANSITIONS:
            if claims.get(entry.stream_id, contract_id) == contract_id:
                return False  # of this contract (booked or retired), or of a claim not known
        elif entry.stream_id not in registered:  # a participant's event, of an older one
            return False
    return True


def _summed(rows: list[dict[str, Any]], added: WhatIf) -> list[dict[str, Any]]:
    """The preview's tallies per provider and outcome plus the newcomers', in the same order
    as a what-if gives them."""
    tallies = {(row["provider_id"], row["outcome_id"]): dict(row) for row in rows}
    for (provider, outcome), tally in added.by_provider_outcome.items():
        row = tallies.setdefault(
            (provider, outcome), {"provider_id": provider, "outcome_id": outcome, **vars(Tally())}
        )
        for name, value in vars(tally).items():
            row[name] += value
    return [tallies[key] for key in sorted(tallies)]
