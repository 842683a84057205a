"""Metrics domain: what providers post to metrics directly, as events on its own feed.

Reports are built from the claims and ledger feeds. The one thing metrics is told first-hand is
staffing: how many whole-time-equivalent caseworkers a provider had on a contract each month,
which reports divide outcomes by.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from shared.feed import catalogue as feed
from shared.feed.envelope import EventCatalogue
from shared.identifiers import stable_id


class Staffing(Aggregate):
    """A provider's whole-time-equivalent staff on one contract, month by month."""

    class Opened(Aggregate.Created):
        contract_id: str
        provider_id: str

    class Reported(Aggregate.Event):
        month: str
        wte: str
        actor: str

    @staticmethod
    def create_id(contract_id: str, provider_id: str) -> UUID:
        return staffing_id(contract_id, provider_id)

    @event(Opened)
    def __init__(self, contract_id: str, provider_id: str) -> None:
        self.contract_id = contract_id
        self.provider_id = provider_id
        self.by_month: dict[str, str] = {}

    def report(self, month: str, wte: str, actor: str) -> bool:
        """Record a month's figure; False (and nothing recorded) if it says nothing new."""
        if self.by_month.get(month) == wte:
            return False
        self._reported(month, wte, actor)
        return True

    @event(Reported)
    def _reported(self, month: str, wte: str, actor: str) -> None:
        self.by_month[month] = wte


def staffing_id(contract_id: str, provider_id: str) -> UUID:
    return stable_id("staffing", contract_id, provider_id)


def fold_staffing(recorded: list[Any]) -> dict[str, str]:
    """Month → WTE from a staffing stream's events (the later figure for a month wins)."""
    found: dict[str, str] = {}
    for domain_event in recorded:
        if isinstance(domain_event, Staffing.Reported):
            found[domain_event.month] = domain_event.wte
    return found


CATALOGUE = EventCatalogue(
    {
        Staffing.Opened: feed.StaffingOpened,
        Staffing.Reported: feed.StaffingReported,
    }
)
