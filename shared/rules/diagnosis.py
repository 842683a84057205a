"""Why an outcome was not derived for a subject: the first thing that stopped it, with the
figures, in the rule book's own names. Pure: the same history and versions give the same
answer, and it follows the engine's order of judgement (:func:`shared.rules.engine.derive`).

For each outcome of the newest version: ``derived`` (with its claims' trigger events), or the
first reason for the newest event that could have triggered it: no such event, no version in
effect on its date, after the contract's end, the subject not eligible (the condition, with the
values it saw), a required earlier event missing or outside its window (with the nearest one
found), a condition that does not hold (with the values), no price tier applying, the limit per
participant reached, or a population outcome (judged on its group when its period closes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.rules.attributes import typed_value
from shared.rules.conditions import (
    Context,
    RecordedEvent,
    counted,
    cumulative_days,
    holds,
)
from shared.rules.engine import (
    RuleBookVersion,
    derive,
    history_order,
    version_in_effect,
)
from shared.rules.model import (
    Absent,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    Count,
    CumulativeDays,
    DaysBetween,
    Not,
    Outcome,
    Requirement,
    RuleBook,
)
from shared.rules.scores import with_scores

DERIVED, NOT_DERIVED = "derived", "not_derived"


@dataclass(frozen=True)
class OutcomeDiagnosis:
    outcome_id: str
    name: str
    status: str  # derived or not_derived
    reason: str | None = None  # the first thing that stopped it
    trigger_event_ids: list[str] = field(default_factory=list)  # of its claims, or judged


def diagnose(
    versions: Sequence[RuleBookVersion],
    history: Sequence[RecordedEvent],
    event_id: str | None = None,
) -> list[OutcomeDiagnosis]:
    """Every outcome of the newest version; with ``event_id``, the outcomes that event could
    trigger, judged on it."""
    ordered = history_order(history)
    claims = derive(versions, ordered).claims
    event = next((e for e in ordered if e.event_id == event_id), None)
    found = []
    for outcome in versions[-1].rulebook.outcomes:
        if event is not None and outcome.trigger != event.type:
            continue
        mine = [
            c
            for c in claims
            if c.outcome_id == outcome.id and event_id in (None, c.trigger_event_id)
        ]
        if mine:
            triggers = [c.trigger_event_id for c in mine]
            found.append(OutcomeDiagnosis(outcome.id, outcome.name, DERIVED, None, triggers))
            continue
        reason, judged = _why_not(versions, outcome, ordered, event)
        found.append(OutcomeDiagnosis(outcome.id, outcome.name, NOT_DERIVED, reason, judged))
    return found


def _why_not(
    versions: Sequence[RuleBookVersion],
    latest: Outcome,
    ordered: list[RecordedEvent],
    chosen: RecordedEvent | None,
) -> tuple[str, list[str]]:
    if latest.population is not None:
        return "a population outcome: judged on its whole group when its period closes", []
    triggers = [event for event in ordered if event.type == latest.trigger]
    if not triggers:
        return f"no {latest.trigger} event", []
    trigger = chosen or triggers[-1]
    triggers = triggers[: triggers.index(trigger) + 1]
    judged = [trigger.event_id]
    in_effect = version_in_effect(versions, trigger.occurred_on)
    if in_effect is None:
        return f"no version of the rule book was in effect on {trigger.occurred_on}", judged
    book = in_effect.rulebook
    if book.contract_end is not None and trigger.occurred_on > book.contract_end:
        return (
            f"{trigger.type} on {trigger.occurred_on} is after the contract's end "
            f"({book.contract_end})",
            judged,
        )
    outcome = next((o for o in book.outcomes if o.id == latest.id), None)
    if outcome is None:
        return f"version {in_effect.version}, in effect on {trigger.occurred_on}, has no "\
            f"outcome {latest.id}", judged  # fmt: skip
    eligibility = _ineligible(book, ordered, trigger)
    if eligibility is not None:
        return f"eligibility: {eligibility}", judged
    bound: dict[str, RecordedEvent] = {"trigger": trigger}
    for requirement in outcome.requires:
        event, problem = _required(requirement, trigger, ordered)
        if event is None:
            return problem, judged
        bound[requirement.name] = event
    context = with_scores(Context(book, bound, ordered, trigger.occurred_on))
    for index, condition in enumerate(outcome.conditions):
        if not holds(context, condition):
            return f"condition {index + 1}: {describe(context, condition)}", judged
    tiers = outcome.price_tiers
    if tiers and outcome.otherwise == "nothing" and not any(holds(context, t.when) for t in tiers):
        return "no price tier applies, and the outcome pays nothing otherwise", judged
    if outcome.max_per_participant is not None and len(triggers) > outcome.max_per_participant:
        return f"the limit of {outcome.max_per_participant} per participant is reached", judged
    return "its effect is zero or below, which earns nothing", judged


def _ineligible(book: RuleBook, ordered: list[RecordedEvent], trigger: RecordedEvent) -> str | None:
    """The first eligibility condition that fails, judged as the engine judges it (on the
    subject's first event of each type)."""
    subject = book.subject_of(trigger.type)
    eligibility = book.eligibility_for(subject) if subject is not None else None
    if eligibility is None:
        return None
    first: dict[str, RecordedEvent] = {}
    for event in ordered:
        first.setdefault(event.type, event)
    context = Context(book, first, ordered, trigger.occurred_on)
    for condition in eligibility.conditions:
        if not holds(context, condition):
            return describe(context, condition)
    return None


def _required(
    requirement: Requirement, trigger: RecordedEvent, ordered: list[RecordedEvent]
) -> tuple[RecordedEvent | None, str]:
    """The earlier event a requirement binds, or why there is none (with the nearest found)."""
    low, high = requirement.min_days_before, requirement.max_days_before
    others = [e for e in ordered if e.type == requirement.event and e.event_id != trigger.event_id]
    inside = [e for e in others if low <= (trigger.occurred_on - e.occurred_on).days
              <= (high if high is not None else 10**9)]  # fmt: skip
    if inside:
        return (inside[-1] if requirement.pick == "latest" else inside[0]), ""
    window = f"at least {low} days" if high is None else f"{low} to {high} days"
    needs = (
        f"needs a {requirement.event} {window} before the {trigger.type} of {trigger.occurred_on}"
    )
    if not others:
        return None, f"{needs}; there is none"
    gaps = ", ".join(str((trigger.occurred_on - e.occurred_on).days) for e in others)
    return None, f"{needs}; the {requirement.event} events found are {gaps} days before it"


def describe(context: Context, condition: Condition) -> str:
    """A condition that does not hold, with what it saw."""
    if isinstance(condition, Comparison):
        name, attribute = condition.attribute.split(".", 1)
        event = context.bound.get(name)
        if event is None:
            return f"{condition.attribute}: there is no {name} event"
        attribute_spec = context.book.attribute_spec(event.type, attribute)
        value = event.attributes.get(attribute)
        actual = typed_value(attribute_spec, value) if attribute_spec else value
        shown = "not given" if actual is None else _text(actual)
        return f"{condition.attribute} is {shown}; needs {condition.op} {_text(condition.value)}"
    if isinstance(condition, DaysBetween):
        spec = condition.days_between
        start, end = context.bound.get(spec.start), context.bound.get(spec.end)
        if start is None or end is None:
            missing = spec.start if start is None else spec.end
            return f"days from {spec.start} to {spec.end}: there is no {missing} event"
        days = (end.occurred_on - start.occurred_on).days
        names = [e.type if n == "trigger" else n for n, e in ((spec.end, end), (spec.start, start))]
        return f"{names[0]} {days} days after {names[1]}; needs {spec.op} {spec.value}"
    if isinstance(condition, CumulativeDays):
        spec_c = condition.cumulative_days
        total = cumulative_days(context.history, spec_c.start, spec_c.stop, context.as_of)
        return (
            f"{total} days between {spec_c.start} and {spec_c.stop} in all; needs "
            f"{spec_c.op} {spec_c.value}"
        )
    if isinstance(condition, Count):
        spec_n = condition.count
        found = counted(context, spec_n.event, spec_n.where, spec_n.window, spec_n.distinct)
        return f"{found or 0} {spec_n.event} events counted; needs {spec_n.op} {spec_n.value}"
    if isinstance(condition, Absent):
        spec_a = condition.absent
        found = counted(context, spec_a.event, spec_a.where, spec_a.window, None)
        return f"{found} {spec_a.event} events where there must be none"
    if isinstance(condition, AllOf):
        failing = next(part for part in condition.all if not holds(context, part))
        return describe(context, failing)
    if isinstance(condition, AnyOf):
        return "none of: " + "; ".join(describe(context, part) for part in condition.any)
    assert isinstance(condition, Not)
    return f"it must not be that: {_holding(condition.not_)}"


def _holding(condition: Condition) -> str:
    """A condition that holds, in the rule book's words (its own JSON)."""
    return str(condition.model_dump(mode="json", by_alias=True, exclude_none=True))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)
