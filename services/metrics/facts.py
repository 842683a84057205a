"""What one participant contributes to performance reports: a pure function of its events.

A participant's live events (as known at some moment) give its *facts*: provider, site, cohort,
need/barrier flags, the first date it reached each stage, and its last contact. Its facts give
its *contributions*: counts under keys of the report cube (a stage reached in a month, the events
of a stage in a month, the time between two stages, a KPI met or missed, the date of last
contact). Reports sum contributions.

The live read models keep the cube up to date by replacing a participant's old contributions
with its new ones whenever its history changes; an "as known at" report recomputes every
participant's contributions from the events known then. Both use these functions, so they agree.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from shared.identifiers import is_caseworker_id
from shared.periods import Period
from shared.rules.model import RuleBook
from shared.rules.reporting_types import Buckets

STAGE = "stage"
EVENTS = "events"
INTERVAL = "interval"
KPI = "kpi"
CONTACT = "contact"
VALUE = "value"
NO_COHORT = "none"
NO_SITE = ""
NOT_YET = "not_yet"
NEVER = "never"
UNKNOWN = "unknown"
CASEWORKER = "@caseworker"  # its key in a participant's flags string (no attribute starts "@")
DEFAULT_WAITS = Buckets(unit="weeks", edges=[1, 2, 3, 4])
DEFAULT_CONTACT = Buckets(unit="days", edges=[7, 14, 30, 60])


@dataclass(frozen=True)
class BucketPlan:
    """Buckets of a number of days: ``labels[i]`` holds up to ``edges[i]`` days (and more than
    the edge before), the last label everything over the last edge."""

    edges: tuple[int, ...]
    labels: tuple[str, ...]

    def of(self, days: int) -> str:
        for edge, label in zip(self.edges, self.labels, strict=False):
            if days <= edge:
                return label
        return self.labels[-1]


def wait_buckets(buckets: Buckets) -> BucketPlan:
    """``<=1w``, ``1-2w`` … ``4w+`` in weeks; ``<=7d``, ``8-14d`` … ``61d+`` in days."""
    edges = buckets.edges
    if buckets.unit == "weeks":
        labels = [f"<={edges[0]}w", *(f"{a}-{b}w" for a, b in itertools.pairwise(edges))]
        labels.append(f"{edges[-1]}w+")
    else:
        labels = [f"<={edges[0]}d", *(f"{a + 1}-{b}d" for a, b in itertools.pairwise(edges))]
        labels.append(f"{edges[-1] + 1}d+")
    return BucketPlan(tuple(buckets.days()), tuple(labels))


def contact_buckets(buckets: Buckets) -> BucketPlan:
    """Days since contact, labelled in days: ``0-7``, ``8-14`` … ``61+``."""
    days = buckets.days()
    labels = [f"0-{days[0]}", *(f"{a + 1}-{b}" for a, b in itertools.pairwise(days))]
    return BucketPlan(tuple(days), (*labels, f"{days[-1] + 1}+"))


MET, MISSED, OPEN = "met", "missed", "open"


class CubeKey(NamedTuple):
    measure: str
    provider_id: str
    site: str
    cohort: str
    flags: str
    k1: str
    k2: str


class LiveEvent(NamedTuple):
    type: str
    occurred_on: dt.date
    attributes: dict[str, Any]


@dataclass(frozen=True)
class KpiPlan:
    id: str
    start: str
    end: str
    within_days: int
    period: Period
    year_starts: int = 1
    count: int = 1
    each_start: bool = False
    rate: int | None = None

    @property
    def needs_dates(self) -> bool:
        """Judged on every start or end event, not only the first of each."""
        return self.count > 1 or self.each_start or self.rate is not None


@dataclass(frozen=True)
class ReportingPlan:
    """What a rule book asks reports to count, resolved from its defaults."""

    stages: tuple[str, ...]
    cohort_stage: str
    site: tuple[str, str] | None
    flags: tuple[tuple[str, str], ...]
    contact_events: frozenset[str]
    closed_stages: frozenset[str]
    interval_pairs: tuple[tuple[str, str], ...]
    kpis: tuple[KpiPlan, ...]
    caseworker: tuple[str, str] | None = None  # kept in the flags string under CASEWORKER
    averages: tuple[tuple[str, str, str], ...] = ()  # (id, event type, attribute)
    waits: BucketPlan = field(default_factory=lambda: wait_buckets(DEFAULT_WAITS))
    contact: BucketPlan = field(default_factory=lambda: contact_buckets(DEFAULT_CONTACT))


def plan_for(rulebook: RuleBook) -> ReportingPlan:
    stages = tuple(rulebook.stages())
    reporting = rulebook.reporting
    site = None
    if reporting.site_attribute is not None:
        event_type, attribute = reporting.site_attribute.split(".", 1)
        site = (event_type, attribute)
    flags = tuple(
        (event_type, name)
        for event_type in stages
        for name, spec in rulebook.event_types[event_type].attributes.items()
        if spec.flag is not None
    )
    caseworker = None
    if reporting.caseworker_attribute is not None:
        event_type, attribute = reporting.caseworker_attribute.split(".", 1)
        caseworker = (event_type, attribute)
    kpis = tuple(
        KpiPlan(
            k.id,
            k.start,
            k.end,
            k.within_days,
            k.period,
            rulebook.year_starts,
            k.count,
            k.each_start,
            k.rate,
        )
        for k in rulebook.kpis
        if k.start in stages and k.end in stages
    )
    pairs = list(itertools.pairwise(stages))
    pairs += [(k.start, k.end) for k in kpis if (k.start, k.end) not in pairs]
    return ReportingPlan(
        stages=stages,
        cohort_stage=reporting.cohort_stage or stages[0],
        site=site,
        flags=flags,
        contact_events=frozenset(reporting.contact_events or stages),
        closed_stages=frozenset(reporting.closed_stages or stages[-1:]),
        interval_pairs=tuple(pairs),
        kpis=kpis,
        caseworker=caseworker,
        averages=tuple(
            (a.id, a.attribute.partition(".")[0], a.attribute.partition(".")[2])
            for a in reporting.averages
        ),
        waits=wait_buckets(reporting.wait_buckets or DEFAULT_WAITS),
        contact=contact_buckets(reporting.contact_buckets or DEFAULT_CONTACT),
    )


@dataclass(frozen=True)
class ParticipantFacts:
    provider_id: str
    site: str
    cohort: str
    flags: str
    first: dict[str, dt.date]
    contacts: tuple[dt.date, ...]  # every contact, in date order
    closed_on: dt.date | None  # the first day it reached a closed stage
    dates: dict[str, list[dt.date]]  # every date of the types some KPI counts, in order
    closed_stages: frozenset[str] = frozenset()
    occurrences: Counter[tuple[str, str]] = field(default_factory=Counter)  # (stage, month): n
    values: dict[str, tuple[str, str]] = field(default_factory=dict)  # average: (month, value)


def participant_facts(
    plan: ReportingPlan, provider_id: str, events: list[LiveEvent]
) -> ParticipantFacts:
    ordered = sorted(events, key=lambda e: e.occurred_on)
    first: dict[str, dt.date] = {}
    first_event: dict[str, LiveEvent] = {}
    for event in ordered:
        if event.type in plan.stages and event.type not in first:
            first[event.type] = event.occurred_on
            first_event[event.type] = event
    contacts = [e.occurred_on for e in ordered if e.type in plan.contact_events]
    counted = {t for k in plan.kpis if k.needs_dates for t in (k.start, k.end)}
    dates: dict[str, list[dt.date]] = {t: [] for t in counted}
    for event in ordered:
        if event.type in counted:
            dates[event.type].append(event.occurred_on)
    occurrences = Counter(
        (event.type, Period.MONTH.label(event.occurred_on))
        for event in ordered
        if event.type in plan.stages
    )
    cohort_day = first.get(plan.cohort_stage)
    return ParticipantFacts(
        provider_id=provider_id,
        site=_attribute_of(first_event, plan.site) if plan.site else NO_SITE,
        cohort=Period.MONTH.label(cohort_day) if cohort_day else NO_COHORT,
        flags=_flags(plan, first_event),
        first=first,
        contacts=tuple(contacts),
        closed_on=min((first[s] for s in plan.closed_stages if s in first), default=None),
        dates=dates,
        closed_stages=plan.closed_stages,
        occurrences=occurrences,
        values={
            average_id: (Period.MONTH.label(first_of_type.occurred_on), value)
            for average_id, event_type, attribute in plan.averages
            if (first_of_type := first_event.get(event_type)) is not None
            and (value := _number(first_of_type.attributes.get(attribute))) is not None
        },
    )


def _flags(plan: ReportingPlan, first_event: dict[str, LiveEvent]) -> str:
    """``name=value;…`` for each flag attribute, then the caseworker's pseudonym (``unknown``
    for anything else an event carries there, so a reference never reaches a report)."""
    pairs = [(name, _attribute_of(first_event, (kind, name))) for kind, name in plan.flags]
    if plan.caseworker is not None:
        found = _attribute_of(first_event, plan.caseworker)
        pairs.append((CASEWORKER, found if is_caseworker_id(found) else UNKNOWN))
    return ";".join(f"{name}={value}" for name, value in pairs)


def _number(value: Any) -> str | None:
    """A numeric attribute as a canonical decimal string (``12.5``, ``100``), or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return format(number.normalize(), "f") if number.is_finite() else None


def _attribute_of(first_event: dict[str, LiveEvent], where: tuple[str, str]) -> str:
    event = first_event.get(where[0])
    if event is None or event.attributes.get(where[1]) is None:
        return UNKNOWN
    value = event.attributes[where[1]]
    return str(value).lower() if isinstance(value, bool) else str(value)


def contributions(plan: ReportingPlan, facts: ParticipantFacts) -> Counter[CubeKey]:
    """The participant's counts under each cube key."""
    found: Counter[CubeKey] = Counter()

    def add(measure: str, k1: str, k2: str, n: int = 1) -> None:
        key = CubeKey(measure, facts.provider_id, facts.site, facts.cohort, facts.flags, k1, k2)
        found[key] += n

    for stage, day in facts.first.items():
        add(STAGE, stage, Period.MONTH.label(day))
    for (stage, month), n in facts.occurrences.items():
        add(EVENTS, stage, month, n)
    for start, end in plan.interval_pairs:
        if start in facts.first:
            wait = _wait(plan.waits, facts.first[start], facts.first.get(end))
            add(INTERVAL, f"{start}>{end}", wait)
    for kpi in plan.kpis:
        statuses = _rate_statuses(kpi, facts) if kpi.rate else _kpi_statuses(kpi, facts)
        for status in statuses:
            add(KPI, kpi.id, status)
    for since, until in _contact_spans(facts):
        add(CONTACT, since, until)
    for average_id, (month, value) in facts.values.items():
        add(VALUE, f"{average_id}|{month}", value)
    return found


def _wait(buckets: BucketPlan, start: dt.date, end: dt.date | None) -> str:
    """``<start month>|<end month>|<bucket>``, or ``<start month>||not_yet``: a report for a
    month counts the participant once its start month has come, and in the bucket only once the
    end month has too (before, it has not yet reached the second stage)."""
    start_month = Period.MONTH.label(start)
    if end is None:
        return f"{start_month}||{NOT_YET}"
    days = max(0, (end - start).days)
    return f"{start_month}|{Period.MONTH.label(end)}|{buckets.of(days)}"


def wait_at(k2: str, month: str) -> str | None:
    """The bucket a ``_wait`` key falls in at the end of ``month``; None before its start."""
    start_month, end_month, bucket = k2.split("|")
    if start_month > month:
        return None
    return bucket if end_month and end_month <= month else NOT_YET


def _contact_spans(facts: ParticipantFacts) -> list[tuple[str, str]]:
    """Who the participant's last contact is at the end of each month, as spans of months.

    ``(day, until)``: from the month of ``day`` until the month ``until`` (exclusive; "" while
    open), the last contact was ``day``. ``(never|<month>, until)``: from its first event's month
    until its first contact's, it had never been contacted. Spans end when it reaches a closed
    stage (a closed participant is not counted). Reports pick the span a month falls in.
    """
    if not facts.first:
        return []
    closed = Period.MONTH.label(facts.closed_on) if facts.closed_on else ""
    last_in_month = {Period.MONTH.label(day): day for day in facts.contacts}  # in date order
    months = sorted(last_in_month)
    spans = []
    starts = [(f"{NEVER}|{Period.MONTH.label(min(facts.first.values()))}", months[:1])]
    starts += [
        (last_in_month[month].isoformat(), months[i + 1 : i + 2]) for i, month in enumerate(months)
    ]
    for since, following in starts:
        since_month = since.removeprefix(f"{NEVER}|")[:7]
        until = min([m for m in (*following, closed) if m], default="")
        if not until or since_month < until:
            spans.append((since, until))
    return spans


def contact_at(k1: str, k2: str, month: str) -> dt.date | str | None:
    """The last contact (or ``never``) a ``_contact_spans`` key gives at the end of ``month``;
    None when the span does not cover that month."""
    never = k1.startswith(f"{NEVER}|")
    since_month = k1.removeprefix(f"{NEVER}|")[:7]
    if since_month > month or (k2 and month >= k2):
        return None
    return NEVER if never else dt.date.fromisoformat(k1)


def _kpi_statuses(kpi: KpiPlan, facts: ParticipantFacts) -> list[str]:
    """One status per item due: the participant (its first start), or each start event."""
    if not kpi.needs_dates:
        if kpi.start not in facts.first:
            return []
        return [_kpi_status(kpi, facts.first[kpi.start], facts.first.get(kpi.end))]
    starts = facts.dates.get(kpi.start, [])
    ends = facts.dates.get(kpi.end, [])
    due = starts if kpi.each_start else starts[:1]
    statuses = []
    for start in due:
        after = [day for day in ends if day >= start]  # ends are in date order
        done = after[kpi.count - 1] if len(after) >= kpi.count else None
        statuses.append(_kpi_status(kpi, start, done))
    return statuses


def _rate_statuses(kpi: KpiPlan, facts: ParticipantFacts) -> list[str]:
    """``span|<first period>|<last period or open>``: the periods the subject is due, from its
    start to its closing stage; and ``met|<period>`` for each period with ``rate`` end events.
    Reports expand the span to the reporting period, so a month without any event is due too."""
    assert kpi.rate is not None
    if kpi.start not in facts.first:
        return []
    start = facts.first[kpi.start]
    closed = min((facts.first[s] for s in facts.closed_stages if s in facts.first), default=None)
    label = functools.partial(kpi.period.label, year_starts=kpi.year_starts)
    statuses = [f"span|{label(start)}|{label(closed) if closed else OPEN}"]
    per_period = Counter(
        label(day)
        for day in facts.dates.get(kpi.end, [])
        if day >= start and (closed is None or day <= closed)
    )
    statuses += [f"{MET}|{period}" for period, n in sorted(per_period.items()) if n >= kpi.rate]
    return statuses


def _kpi_status(kpi: KpiPlan, start: dt.date, end: dt.date | None) -> str:
    """``met|<period>`` or ``missed|<period>`` once decided; ``open|<start>`` while it can be."""
    if end is None:
        return f"{OPEN}|{start.isoformat()}"
    status = MET if (end - start).days <= kpi.within_days else MISSED
    return f"{status}|{kpi.period.label(start, kpi.year_starts)}"
