"""What-if: replay every participant of a contract under a draft rule book, write nothing.

The histories and the live claims come from the service's own feed, read straight from its store
into the public model of that feed the auditor uses too
(:class:`shared.feed.models.ClaimsFeedModel`), so no aggregate is loaded one by one. The draft
is applied as if it had been in force from the contract's start; claims are compared per
participant by claim key, and summed per provider and outcome.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from services.claims.errors import ContractNotFound
from shared.errors import FieldProblem, InvalidInput
from shared.feed import catalogue as feed
from shared.feed.envelope import MAX_PAGE_SIZE
from shared.feed.models import ClaimsFeedModel, FeedClaim
from shared.feed.views import Terms
from shared.identifiers import canonical_sha256
from shared.rules.caps import CapMeter, caps_of
from shared.rules.engine import DerivedClaim, RuleBookVersion, derive
from shared.rules.model import RuleBook
from shared.rules.populations import derived_populations

MAX_EXAMPLES = 100
VERIFIED = "verified"  # a claim's status while the ledger holds it booked
REPLAYED = feed.PARTICIPANT_HISTORY_TYPES | {
    feed.ClaimDerived.TYPE,
    feed.ClaimVerified.TYPE,
    feed.ClaimVoided.TYPE,
    feed.ClaimReversalRequested.TYPE,
}  # what a replay needs: histories, which claims are live (derived and not retired), and
# which are booked (verified), in the order they were


@dataclass
class Tally:
    actual_claims: int = 0
    actual_minor: int = 0
    what_if_claims: int = 0
    what_if_minor: int = 0
    differing_claims: int = 0


@dataclass(frozen=True)
class Booked:
    """Through the caps, in minor units: what the ledger books for the claims verified now,
    and what it would book for them under the draft."""

    actual_accrued_minor: int
    actual_capped_minor: int
    what_if_accrued_minor: int
    what_if_capped_minor: int


@dataclass
class WhatIf:
    contract_id: str
    draft_sha256: str
    participants: int = 0
    by_provider_outcome: dict[tuple[str, str], Tally] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    elapsed_ms: int = 0
    currency: str = ""
    booked: Booked = field(default_factory=lambda: Booked(0, 0, 0, 0))
    # the draft's claims by (subject, claim key), while comparing; emptied after
    derived: dict[tuple[str, str], DerivedClaim] = field(default_factory=dict)

    @property
    def differing_claims(self) -> int:
        return sum(t.differing_claims for t in self.by_provider_outcome.values())

    @property
    def difference_minor(self) -> int:
        """What the draft would pay, less what the live claims pay (negative: less)."""
        return sum(t.what_if_minor - t.actual_minor for t in self.by_provider_outcome.values())


def what_if(
    read_feed: Callable[[int, int, Collection[str]], Sequence[Any]],
    draft: RuleBook,
    contract_id: str,
    as_amendment: bool = False,
) -> WhatIf:
    """The draft's effect. By default as if it had been in force from the contract's start;
    ``as_amendment``: as the contract's next version, in force from its own effective date
    (what approving it as a retroactive amendment would do)."""
    return what_if_on(read_model(read_feed), draft, contract_id, as_amendment)


def read_model(read_feed: Callable[[int, int, Collection[str]], Sequence[Any]]) -> ClaimsFeedModel:
    """The claims feed, read once into the model every what-if of it works on."""
    return _read(read_feed)


def what_if_on(
    model: ClaimsFeedModel, draft: RuleBook, contract_id: str, as_amendment: bool = False
) -> WhatIf:
    """:func:`what_if` on a model of the feed read already (several drafts, one read)."""
    started = time.monotonic()
    if draft.contract_id != contract_id:
        raise InvalidInput(
            "the draft is for another contract",
            [FieldProblem("contract_id", f"expected {contract_id!r}")],
        )
    if contract_id not in model.rulebooks:
        raise ContractNotFound(contract_id)
    first = RuleBook.model_validate(model.rulebooks[contract_id][0])
    if draft.currency != first.currency:
        raise InvalidInput(
            "a draft cannot change the currency", [FieldProblem("currency", first.currency)]
        )
    if as_amendment:
        documents = model.rulebooks[contract_id]
        versions = [
            RuleBookVersion(number, RuleBook.model_validate(document))
            for number, document in enumerate(documents, start=1)
        ]
        versions.append(RuleBookVersion(len(documents) + 1, draft))
    else:
        from_start = draft.model_copy(
            update={"effective_from": min(first.effective_from, draft.effective_from)}
        )
        versions = [RuleBookVersion(1, from_start)]
    result = WhatIf(contract_id, canonical_sha256(draft.canonical()), currency=draft.currency)
    live = _live_claims(model, contract_id)
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for participant in model.participants.values():
        if participant.contract_id != contract_id:
            continue
        result.participants += 1
        derived = {c.claim_key: c for c in derive(versions, participant.history()).claims}
        actual = live.pop(participant.participant_id, {})
        _compare(
            participant.provider_id, participant.participant_id, actual, derived, tallies, result
        )
    _compare_populations(model, contract_id, versions, live, tallies, result)
    result.by_provider_outcome = dict(sorted(tallies.items()))
    result.booked = _booked(model, contract_id, draft, result.derived)
    result.derived = {}
    result.elapsed_ms = int((time.monotonic() - started) * 1000)
    return result


TOTALLED = (
    "participants", "differing_claims", "difference_minor", "actual_accrued_minor",
    "actual_capped_minor", "what_if_accrued_minor", "what_if_capped_minor",
)  # fmt: skip


def what_if_portfolio(
    model: ClaimsFeedModel, drafts: Sequence[RuleBook]
) -> tuple[list[WhatIf], list[dict[str, Any]]]:
    """Each draft's what-if on one model of the feed (one draft per contract), and the totals
    per currency of the figures that add up."""
    seen: set[str] = set()
    for index, draft in enumerate(drafts):
        if draft.contract_id in seen:
            raise InvalidInput(
                "two drafts for one contract",
                [FieldProblem(f"drafts[{index}].contract_id", "a contract once per request")],
            )
        seen.add(draft.contract_id)
    results = [what_if_on(model, draft, draft.contract_id) for draft in drafts]
    totals: dict[str, dict[str, int]] = {}
    for result in results:
        total = totals.setdefault(result.currency, dict.fromkeys(TOTALLED, 0))
        figures = {
            "participants": result.participants,
            "differing_claims": result.differing_claims,
            "difference_minor": result.difference_minor,
            **asdict(result.booked),
        }
        for name in TOTALLED:
            total[name] += figures[name]
    return results, [{"currency": c, **figures} for c, figures in sorted(totals.items())]


def _booked(
    model: ClaimsFeedModel,
    contract_id: str,
    draft: RuleBook,
    derived: dict[tuple[str, str], DerivedClaim],
) -> Booked:
    """What the ledger books now, and would book under the draft: the claims verified now,
    in the order they were verified, through the contract's caps (the latest version's), and
    the same claims re-priced by the draft through the draft's caps. A claim the draft no
    longer earns is not booked; one it newly earns waits for verification, so is not either."""
    latest = Terms.model_validate(model.rulebooks[contract_id][-1])
    now = CapMeter(caps_of(latest), latest.currency)
    then = CapMeter(caps_of(Terms.model_validate(draft.canonical())), draft.currency)
    for claim_id in dict.fromkeys(model.verified_order):
        claim = model.claims[claim_id]
        if claim.contract_id != contract_id or claim.status != VERIFIED:
            continue
        now.book(claim.amount_minor, claim.outcome_id, claim.occurred_on, claim.participant_id)
        fresh = derived.get((claim.participant_id, claim.claim_key))
        if fresh is not None:
            then.book(
                fresh.amount_minor, fresh.outcome_id, fresh.occurred_on.isoformat(),
                claim.participant_id,
            )  # fmt: skip
    return Booked(now.accrued, now.capped, then.accrued, then.capped)


def _compare_populations(
    model: ClaimsFeedModel,
    contract_id: str,
    versions: list[RuleBookVersion],
    live: dict[str, dict[str, FeedClaim]],
    tallies: dict[tuple[str, str], Tally],
    result: WhatIf,
) -> None:
    """Population claims under the draft (for every population closed by the feed's end)
    against the live ones; a live population claim the draft no longer earns counts too."""
    members = [
        (p.provider_id, p.history())
        for p in model.participants.values()
        if p.contract_id == contract_id
    ]
    people = {p.participant_id for p in model.participants.values()}
    as_of = model.last_recorded or dt.date.min
    for key, derived in derived_populations(versions, members, as_of, live):
        _compare(key.provider_id, key.subject, live.pop(key.subject, {}), derived, tallies, result)
    for subject, actual in sorted(live.items()):
        if subject not in people:  # a live population claim the draft has no population for
            provider_id = next(iter(actual.values())).provider_id
            _compare(provider_id, subject, actual, {}, tallies, result)


def _read(read_feed: Callable[[int, int, Collection[str]], Sequence[Any]]) -> ClaimsFeedModel:
    model = ClaimsFeedModel()
    for entry in replayed_entries(read_feed, 0):
        model.apply(entry)
    return model


def replayed_entries(
    read_feed: Callable[[int, int, Collection[str]], Sequence[Any]], after: int
) -> Iterator[Any]:
    """What a replay reads, recorded after position ``after``, a page at a time."""
    while page := read_feed(after, MAX_PAGE_SIZE, REPLAYED):
        yield from page
        after = page[-1].position


def _live_claims(model: ClaimsFeedModel, contract_id: str) -> dict[str, dict[str, FeedClaim]]:
    found: dict[str, dict[str, FeedClaim]] = defaultdict(dict)
    for claim in model.live_claims():
        if claim.contract_id == contract_id:
            found[claim.participant_id][claim.claim_key] = claim
    return found


def _compare(
    provider_id: str,
    participant_id: str,
    actual: dict[str, FeedClaim],
    derived: dict[str, DerivedClaim],
    tallies: dict[tuple[str, str], Tally],
    result: WhatIf,
) -> None:
    for key, fresh in derived.items():
        result.derived[(participant_id, key)] = fresh
    for key in sorted(set(actual) | set(derived)):
        now, then = actual.get(key), derived.get(key)
        if now is not None:
            outcome = now.outcome_id
        else:
            assert then is not None  # every key comes from one side or the other
            outcome = then.outcome_id
        tally = tallies[(provider_id, outcome)]
        now_minor = now.amount_minor if now else None
        then_minor = then.amount_minor if then else None
        if now is not None:
            tally.actual_claims += 1
            tally.actual_minor += now_minor or 0
        if then is not None:
            tally.what_if_claims += 1
            tally.what_if_minor += then_minor or 0
        if now_minor != then_minor:
            tally.differing_claims += 1
            if len(result.examples) < MAX_EXAMPLES:
                result.examples.append(
                    {
                        "participant_id": participant_id,
                        "provider_id": provider_id,
                        "claim_key": key,
                        "outcome_id": outcome,
                        "actual_minor": now_minor,
                        "what_if_minor": then_minor,
                    }
                )
