"""Typed views of a published rule-book document: what readers of the feed need of it (the
ledger's terms, the claim index's verification deadlines, metrics' stages), read without
validating the whole document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class View(BaseModel):
    """A typed view of part of a larger document: it reads the fields it names, ignores the
    rest, and never validates the whole (a rule book is checked once, by the claims service)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class ProviderView(View):
    id: str


class CalendarView(View):
    year_starts: int = 1


class VerificationView(View):
    decision_days: int
    dispute_decision_days: int


class Terms(View):
    """What the ledger and other readers of the feed need of a rule-book document."""

    contract_id: str
    name: str = ""
    currency: str
    effective_from: str | None = None  # ISO date the version takes effect
    providers: list[ProviderView]
    event_types: dict[str, Any] = {}
    caps: list[dict[str, Any]] = []
    calendar: CalendarView | None = None
    verification: VerificationView | None = None  # every published rule book states it

    @property
    def provider_ids(self) -> list[str]:
        return [provider.id for provider in self.providers]

    @property
    def year_starts(self) -> int:
        return self.calendar.year_starts if self.calendar is not None else 1
