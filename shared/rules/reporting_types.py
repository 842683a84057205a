"""What a rule book declares for the ledger and the reports: caps, target series, KPIs and
how reports slice the participants. Re-exported by :mod:`shared.rules.model`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.rules.vocabulary import (
    MAX_COUNT,
    MAX_DAYS,
    MAX_ITEMS,
    DecimalText,
    Name,
    Percentage,
    Period,
    PeriodLabel,
    Strict,
    unset,
)


class Cap(Strict):
    id: Name
    scope: Literal["contract", "outcome", "period", "participant"]
    amount: DecimalText
    outcome: Name | None = None
    period: Period | None = None


TargetValues = dict[PeriodLabel, int | DecimalText]


class TargetSeries(Strict):
    id: Name
    name: str = Field(min_length=1, max_length=200)
    measure: Literal["stage", "staffing"] = Field(
        default="stage",
        exclude_if=lambda value: value == "stage",
        description="Participants reaching a stage, or staff (WTE) posted by the providers",
    )
    stage: Name | None = Field(
        default=None,
        exclude_if=unset,
        description="The event type counted (participants reaching it); for measure: stage",
    )
    period: Period
    values: TargetValues = Field(
        default_factory=dict,
        max_length=1000,
        description='Whole numbers, or decimals as text: "53.5" (the whole contract\'s)',
    )
    by: Literal["site", "provider"] | None = Field(
        default=None, exclude_if=unset, description="A value table per site or per provider"
    )
    values_by: dict[Annotated[str, Field(min_length=1, max_length=64)], TargetValues] | None = (
        Field(default=None, exclude_if=unset, max_length=MAX_ITEMS)
    )
    cumulative: Literal["period", "year_to_date", "contract_to_date"] = Field(
        default="period",
        exclude_if=lambda value: value == "period",
        description="Each value counts its period alone, or everything since the reporting "
        "year (or the contract) began",
    )

    def tables(self) -> dict[str, TargetValues]:
        """The value tables by group: ``""`` for the whole contract, or each site or provider."""
        return dict(self.values_by or {}) if self.by is not None else {"": self.values}


class Kpi(Strict):
    """Share of subjects whose ``end`` event came within N days of their ``start`` event; with
    ``count``, whose ``count``-th end event did ("3 meetings within 28 days of referral"); with
    ``each_start``, of start events each followed by an end event in time ("every missed
    appointment followed up within 3 days"); with ``conversion``, of everyone who started in
    the period ("referrals to job starts", the not-yet-converted counting against it)."""

    id: Name
    name: str = Field(min_length=1, max_length=200)
    start: Name
    end: Name
    within_days: int = Field(ge=0, le=MAX_DAYS)
    count: int = Field(
        default=1, ge=1, le=MAX_COUNT, exclude_if=lambda value: value == 1,
        description="End events needed within the days [1]",
    )  # fmt: skip
    each_start: bool = Field(
        default=False, exclude_if=lambda value: value is False,
        description="Every start event is due, not only the subject's first",
    )  # fmt: skip
    rate: int | None = Field(
        default=None, ge=1, le=MAX_COUNT, exclude_if=unset,
        description="A rate: at least this many end events in each period a subject is in "
        "service (from its start until it reaches a closed stage)",
    )  # fmt: skip
    conversion: bool = Field(
        default=False, exclude_if=lambda value: value is False,
        description="A conversion rate: everyone who started in the period is due at once, "
        "and those who have not reached the end yet count as not converted",
    )  # fmt: skip
    period: Period = Period.MONTH
    minimum_level: Percentage | None = Field(default=None, description="Below: minor failure")
    lower_level: Percentage | None = Field(default=None, description="Below: major failure")


class ScorePart(Strict):
    """One conversion of a composite score, and its weight."""

    start: Name
    end: Name
    weight: DecimalText = Field(description="A positive decimal; weights need not sum to 1")


class ConversionScore(Strict):
    """Share of participants who reached ``start`` that went on to reach ``end``; or, with
    ``parts``, the weighted sum of several such shares (a composite score)."""

    start: Name | None = Field(default=None, exclude_if=unset)
    end: Name | None = Field(default=None, exclude_if=unset)
    parts: list[ScorePart] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ITEMS,
        exclude_if=unset,
        description="A composite: the sum of each conversion times its weight",
    )

    def conversions(self) -> list[tuple[str, str, str]]:
        """(start, end, weight) of each conversion (one of weight 1 without parts)."""
        if self.parts is not None:
            return [(part.start, part.end, part.weight) for part in self.parts]
        if self.start is not None and self.end is not None:
            return [(self.start, self.end, "1")]
        return []


MAX_BUCKETS = 12


class Buckets(Strict):
    """Bucket edges for waits or days since contact: each edge closes a bucket (``[1, 2]``
    weeks: up to 1 week, over 1 up to 2 weeks, over 2 weeks)."""

    unit: Literal["days", "weeks"] = "days"
    edges: list[Annotated[int, Field(ge=1, le=MAX_DAYS)]] = Field(
        min_length=1, max_length=MAX_BUCKETS, description="Strictly increasing, at least 1"
    )

    def days(self) -> list[int]:
        return [edge * (7 if self.unit == "weeks" else 1) for edge in self.edges]


class OutcomeRate(Strict):
    """An outcome rate as the field reports it: the share of a cohort base (participants who
    reached the cohort stage) that went on to reach ``stage``, over a declared denominator."""

    id: Name
    name: str = Field(min_length=1, max_length=200)
    stage: Name = Field(description="The outcome counted: participants who reached it")
    denominator: Literal["everyone", "period", "due_cohorts"] = Field(
        description="everyone: every cohort to date; period: the cohorts of the report's "
        "period (the month, or with period= the quarter or year); due_cohorts: the cohorts "
        "whose outcome is due, each cohort month's last day plus due_days on or before the "
        "month's end"
    )
    due_days: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DAYS,
        exclude_if=unset,
        description="For due_cohorts: days to the outcome",
    )


class Average(Strict):
    """The mean and median of a numeric attribute over participants: each participant's value
    on its first event of the attribute's type (the hourly wage at the first job start)."""

    id: Name
    name: str = Field(min_length=1, max_length=200)
    attribute: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$",
        description="event_type.attribute: an integer or decimal attribute of a participant "
        "event type, not personal",
    )


class Reporting(Strict):
    """How performance reports slice the participants (all optional; defaults in brackets)."""

    site_attribute: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$",
        description="event_type.attribute naming a participant's site, from its first such "
        "event [no sites]",
    )
    caseworker_attribute: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$",
        exclude_if=unset,
        description="event_type.attribute naming a participant's caseworker, from its first "
        "such event: a string the provider posts (its own staff reference), which the claims "
        "service keeps only as a keyed pseudonym (`w_…`) [no caseworkers]",
    )
    cohort_stage: Name | None = Field(
        default=None,
        description="A participant's cohort is the month it first reached this stage "
        "[the first participant event type]",
    )
    contact_events: list[Name] | None = Field(
        default=None, max_length=MAX_ITEMS, description="What counts as contact [every type]"
    )
    closed_stages: list[Name] | None = Field(
        default=None,
        max_length=MAX_ITEMS,
        description="Participants who reached one need no more contact [the last stage]",
    )
    score: ConversionScore | None = Field(
        default=None, description="Providers are ranked on it [first stage to last stage]"
    )
    budget: DecimalText | None = Field(
        default=None, description="The money reports compare with it [the contract cap]"
    )
    rates: list[OutcomeRate] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        exclude_if=lambda value: not value,
        description="Outcome rates with their denominators [none]",
    )
    averages: list[Average] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        exclude_if=lambda value: not value,
        description="Means and medians of numeric attributes [none]",
    )
    wait_buckets: Buckets | None = Field(
        default=None,
        exclude_if=unset,
        description="Buckets of the waits between stages [weeks: 1, 2, 3, 4]",
    )
    contact_buckets: Buckets | None = Field(
        default=None,
        exclude_if=unset,
        description="Buckets of days since last contact [days: 7, 14, 30, 60]",
    )
