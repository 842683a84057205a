"""Population outcomes: what one participant adds to its group's period, and the group's claim.

Pure, like the rest of the engine. A participant's :class:`MemberFact` is a function of its own
history (which group, which period, whether it met the population's conditions, its value for
an average); a population's claim is a function of the facts of its members. So a group's
figures are kept as facts (one per member) and recomputed from them, never by replaying every
member's history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from shared.periods import month_of
from shared.rules.attributes import typed_value
from shared.rules.conditions import Context, RecordedEvent, holds
from shared.rules.engine import (
    DerivedClaim,
    RuleBookVersion,
    history_order,
    settle,
    version_in_effect,
)
from shared.rules.measures import COHORT_GROUP, PROVIDER_GROUP
from shared.rules.model import POPULATION, Outcome, PopulationSpec, RuleBook

HUNDRED = Decimal(100)
SHARE_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class MemberFact:
    """One participant's part in a population: its group and period, and what it counts."""

    group: str
    period: str
    met: bool
    value: str | None  # the averaged attribute, as decimal text; None when it has none

    def as_json(self) -> dict[str, object]:
        return {"group": self.group, "period": self.period, "met": self.met, "value": self.value}

    @staticmethod
    def from_json(data: dict[str, object]) -> MemberFact:
        value = data.get("value")
        return MemberFact(
            str(data["group"]),
            str(data["period"]),
            bool(data["met"]),
            None if value is None else str(value),
        )


@dataclass(frozen=True)
class Figures:
    """A population's figures: members, members who met its conditions, and an average."""

    members: int
    met: int
    value_total: Decimal
    valued: int

    @staticmethod
    def of(facts: Iterable[MemberFact]) -> Figures:
        members = met = valued = 0
        total = Decimal(0)
        for fact in facts:
            members += 1
            met += fact.met
            if fact.value is not None:
                total += Decimal(fact.value)
                valued += 1
        return Figures(members, met, total, valued)

    def attributes(self) -> dict[str, object]:
        """What conditions and tiers read. The share and average are full-precision quotients
        (28 significant digits), so a threshold is met or missed exactly, never by rounding."""
        share = (Decimal(self.met) * HUNDRED / self.members) if self.members else Decimal(0)
        average = (self.value_total / self.valued) if self.valued else None
        return {
            "members": self.members,
            "met": self.met,
            "share": str(share),
            "average": None if average is None else str(average),
        }

    def shown(self) -> dict[str, object]:
        """The figures as a trace shows them (share and average to 4 places)."""
        shown = self.attributes()
        for name in ("share", "average"):
            if shown[name] is not None:
                shown[name] = str(Decimal(str(shown[name])).quantize(SHARE_PLACES))
        return shown


def member_fact(
    versions: Sequence[RuleBookVersion], outcome_id: str, history: Sequence[RecordedEvent]
) -> MemberFact | None:
    """The participant's part in a population outcome, or None when it is not a member: it has
    no member event yet, no group, or no rule-book version was in effect on its member event."""
    ordered = history_order(history)
    first: dict[str, RecordedEvent] = {}
    for event in ordered:
        first.setdefault(event.type, event)
    latest = versions[-1].rulebook if versions else None
    spec = _population(latest, outcome_id) if latest is not None else None
    if spec is None or spec.member_event not in first:
        return None
    joined = first[spec.member_event]
    in_effect = version_in_effect(versions, joined.occurred_on)
    spec = _population(in_effect.rulebook, outcome_id) if in_effect is not None else None
    if in_effect is None or spec is None:
        return None
    group = _group_of(spec, first, in_effect.rulebook)
    if group is None or group == "":
        return None
    book = in_effect.rulebook
    context = Context(book, first, ordered, joined.occurred_on)
    met = all(holds(context, condition) for condition in spec.met)
    return MemberFact(
        str(group),
        spec.period.label(joined.occurred_on, book.year_starts),
        met,
        _value(book, spec, first),
    )


def _group_of(spec: PopulationSpec, first: dict[str, RecordedEvent], book: RuleBook) -> object:
    """The member's group: its provider's (populations are per provider), its cohort (the
    month it first reached the cohort stage), or an attribute of one of its events."""
    if spec.by_provider:
        return PROVIDER_GROUP
    if spec.group == COHORT_GROUP:
        stages = book.stages()
        cohort_stage = book.reporting.cohort_stage or (stages[0] if stages else None)
        reached = first.get(cohort_stage) if cohort_stage is not None else None
        return month_of(reached.occurred_on) if reached is not None else None
    group_type, group_attribute = spec.group.split(".", 1)
    group_event = first.get(group_type)
    return group_event.attributes.get(group_attribute) if group_event is not None else None


def _value(book: RuleBook, spec: PopulationSpec, first: dict[str, RecordedEvent]) -> str | None:
    if spec.attribute is None:
        return None
    event_type, attribute = spec.attribute.split(".", 1)
    event = first.get(event_type)
    attribute_spec = book.attribute_spec(event_type, attribute)
    if event is None or attribute_spec is None:
        return None
    value = typed_value(attribute_spec, event.attributes.get(attribute))
    return None if value is None else str(value)


def _population(book: RuleBook, outcome_id: str) -> PopulationSpec | None:
    outcome = _outcome(book, outcome_id)
    return outcome.population if outcome is not None else None


def _outcome(book: RuleBook, outcome_id: str) -> Outcome | None:
    return next((o for o in book.outcomes if o.id == outcome_id), None)


def population_subject(provider_id: str, outcome_id: str, group: str, period: str) -> str:
    """The subject id a population's claims carry in the place of a participant id: the same
    for the claims service and for anyone recomputing from the feed."""
    digest = hashlib.sha256("\x1f".join((provider_id, outcome_id, group, period)).encode())
    return f"g_{digest.hexdigest()[:32]}"


def period_end(spec: PopulationSpec, period: str, year_starts: int) -> dt.date:
    """The last day of a population's period, from its label."""
    return spec.period.bounds(spec.period.start_of(period, year_starts), year_starts)[1]


def closes_on(spec: PopulationSpec, period: str, year_starts: int) -> dt.date:
    """The day a population's claim is first derived: ``close_days`` after its period ends."""
    return period_end(spec, period, year_starts) + dt.timedelta(days=spec.close_days)


def derive_population(
    versions: Sequence[RuleBookVersion],
    outcome_id: str,
    group: str,
    period: str,
    figures: Figures,
) -> DerivedClaim | None:
    """The claim a population's figures earn under the version in effect when its period ended
    (None when it earns nothing, or has no members)."""
    latest = _population(versions[-1].rulebook, outcome_id) if versions else None
    if latest is None or figures.members == 0:
        return None
    ends = period_end(latest, period, versions[-1].rulebook.year_starts)
    in_effect = version_in_effect(versions, ends)
    outcome = _outcome(in_effect.rulebook, outcome_id) if in_effect is not None else None
    if in_effect is None or outcome is None or outcome.population is None:
        return None
    attributes = figures.attributes()
    bound = {
        POPULATION: RecordedEvent(f"{POPULATION}:{group}:{period}", POPULATION, ends, attributes)
    }
    settled = settle(outcome, Context(in_effect.rulebook, bound, (), ends))
    if settled is None:
        return None
    tier, pricing = settled
    return DerivedClaim(
        claim_key=f"{outcome_id}@{period}",
        outcome_id=outcome_id,
        occurred_on=ends,
        amount_minor=pricing["amount_minor"],
        currency=in_effect.rulebook.currency,
        contract_version=in_effect.version,
        trigger_event_id=f"{POPULATION}:{period}",
        source_event_ids=(),
        tier=tier.id if tier is not None else None,
        evidence_required=tuple(outcome.evidence),
        trace={
            "contract_version": in_effect.version,
            "outcome_id": outcome_id,
            "population": {"group": group, "period": period, **figures.shown()},
            **pricing,
        },
    )


@dataclass(frozen=True)
class PopulationKey:
    """One provider's group in one period of one population outcome."""

    provider_id: str
    outcome_id: str
    group: str
    period: str

    @property
    def subject(self) -> str:
        return population_subject(self.provider_id, self.outcome_id, self.group, self.period)


def gather(
    versions: Sequence[RuleBookVersion],
    members: Iterable[tuple[str, Sequence[RecordedEvent]]],
) -> dict[PopulationKey, list[MemberFact]]:
    """Every population of a contract with its members' facts, from (provider, history) pairs:
    what an auditor or a what-if replay rebuilds from the feed alone."""
    found: dict[PopulationKey, list[MemberFact]] = {}
    outcomes = versions[-1].rulebook.population_outcomes() if versions else []
    if not outcomes:
        return found
    for provider_id, history in members:
        for outcome in outcomes:
            fact = member_fact(versions, outcome.id, history)
            if fact is not None:
                key = PopulationKey(provider_id, outcome.id, fact.group, fact.period)
                found.setdefault(key, []).append(fact)
    return found


def is_closed(versions: Sequence[RuleBookVersion], key: PopulationKey, on: dt.date) -> bool:
    book = versions[-1].rulebook
    spec = _population(book, key.outcome_id)
    return spec is not None and closes_on(spec, key.period, book.year_starts) <= on


def derived_populations(
    versions: Sequence[RuleBookVersion],
    members: Iterable[tuple[str, Sequence[RecordedEvent]]],
    as_of: dt.date,
    live_subjects: Collection[str],
) -> Iterator[tuple[PopulationKey, dict[str, DerivedClaim]]]:
    """Each population's claims by key as its members' histories earn them: for every
    population closed on ``as_of``, and for any other that has a live claim to compare."""
    for key, facts in sorted(gather(versions, members).items(), key=str):
        if key.subject not in live_subjects and not is_closed(versions, key, as_of):
            continue
        claim = derive_population(
            versions, key.outcome_id, key.group, key.period, Figures.of(facts)
        )
        yield key, ({claim.claim_key: claim} if claim is not None else {})
