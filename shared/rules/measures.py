"""Measures a rule book declares beside single triggers: composite scores and populations."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from shared.rules.condition_types import Condition
from shared.rules.vocabulary import (
    MAX_DAYS,
    MAX_ITEMS,
    AttributeReference,
    DecimalText,
    Name,
    Period,
    Strict,
)


class PointsBand(Strict):
    """Points an indicator earns when its value is at least (or at most) a bound."""

    points: int = Field(ge=0, le=1000)
    at_least: DecimalText | None = None
    at_most: DecimalText | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> PointsBand:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("a band sets exactly one of at_least or at_most")
        return self


class Indicator(Strict):
    """One indicator of a score: a number scored in bands (the first band that holds), or
    another score's points, times a weight."""

    id: Name
    attribute: AttributeReference | None = Field(
        default=None, description="<name>.<attribute>, as in conditions"
    )
    score: Name | None = Field(default=None, description="Another score's points instead")
    bands: list[PointsBand] = Field(default_factory=list, max_length=20)
    weight: DecimalText = "1"


class Score(Strict):
    """A weighted sum of indicator points, out of a stated maximum (ten indicators of 0-3
    points each: out of 30). Conditions and tiers read it as ``score.<id>``."""

    indicators: list[Indicator] = Field(min_length=1, max_length=50)
    out_of: DecimalText


PROVIDER_GROUP = "provider"  # a population of all of a provider's participants
COHORT_GROUP = "cohort"  # a population of those who reached the cohort stage in one month


class PopulationSpec(Strict):
    """An outcome about a group of participants in a period, not one subject.

    A participant is a member of the group named by ``group`` (an attribute of its first event
    of that type) in the period that holds its first ``member`` event. The population's
    ``members``, ``met`` (members for whom every ``met`` condition holds), ``share`` (met as a
    percentage of members) and ``average`` (of ``attribute``) are what conditions, tiers and
    ``price_per`` read, as ``population.<name>``. The claim is derived ``close_days`` after the
    period ends, and again whenever a late event changes the figures."""

    group: AttributeReference | Literal["provider", "cohort"] = Field(
        description="event_type.attribute naming the group; provider: all the provider's "
        "participants are one group; cohort: the month each reached the cohort stage"
    )
    member: Name | None = Field(
        default=None, description="The event that makes a member [the group's event type]"
    )
    period: Period
    met: list[Condition] = Field(default_factory=list, max_length=MAX_ITEMS)
    attribute: AttributeReference | None = Field(
        default=None, description="The numeric attribute averaged (on its first such event)"
    )
    close_days: int = Field(default=30, ge=0, le=MAX_DAYS)

    @property
    def member_event(self) -> str:
        return self.member or self.group.split(".", 1)[0]

    @property
    def by_provider(self) -> bool:
        return self.group == PROVIDER_GROUP

    @property
    def by_kind(self) -> bool:
        """Grouped by provider or cohort, not by an attribute."""
        return self.group in (PROVIDER_GROUP, COHORT_GROUP)
