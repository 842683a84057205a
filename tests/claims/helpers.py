"""Builders for claims tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import yaml

from services.claims.application import ClaimsApplication, IncomingEvent
from shared.rules.model import RuleBook, parse_rulebook
from tests.conftest import IPS_RULEBOOK

PROVIDER = "northside-ips"
OTHER_PROVIDER = "riverside-works"
PSEUDONYM_KEY = "test-pseudonym-key-0123456789abcdef"
TODAY = dt.date(2026, 11, 23)


def ips_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(IPS_RULEBOOK.read_text())
    return document


def ips_rulebook() -> RuleBook:
    return parse_rulebook(ips_document())


NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def claims_app(url: str, clock: Callable[[], dt.datetime] = lambda: NOW) -> ClaimsApplication:
    return ClaimsApplication(url, PSEUDONYM_KEY, clock=clock)


def story_events(ref: str = "case-0042", prefix: str = "ev") -> list[IncomingEvent]:
    """Referral, enrollment, a 20-hour job start and its sustainment 98 days later."""
    return [
        IncomingEvent(f"{prefix}-1", ref, "referral", dt.date(2026, 3, 2), {}),
        IncomingEvent(f"{prefix}-2", ref, "enrollment", dt.date(2026, 3, 9), {}),
        IncomingEvent(f"{prefix}-3", ref, "job_start", dt.date(2026, 4, 1), {"hours_per_week": 20}),
        IncomingEvent(f"{prefix}-4", ref, "job_sustained", dt.date(2026, 7, 8), {}),
    ]


def story_json(ref: str = "case-0042", prefix: str = "ev") -> list[dict[str, Any]]:
    return [
        {
            "event_id": e.event_id,
            "participant_ref": e.participant_ref,
            "type": e.type,
            "occurred_on": e.occurred_on.isoformat(),
            "attributes": e.attributes,
        }
        for e in story_events(ref, prefix)
    ]
