"""Builders for claims tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import yaml

from services.claims.api import MIGRATIONS
from services.claims.application import ClaimsApplication
from services.claims.commands import IncomingEvent
from services.claims.personal import PersonalDataVault
from shared.feed.models import ClaimsFeedModel
from shared.rules.model import RuleBook, parse_rulebook
from shared.sqlviews import create_engine, migrate
from shared.storeurls import sqlalchemy_url
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


PERSONAL_DATA_KEY = "dGVzdC1wZXJzb25hbC1kYXRhLWtleS0wMTIzNDU2Nzg="


def vault_for(url: str) -> PersonalDataVault:
    """The personal-data vault of a claims store, its tables migrated; closed with the app."""
    engine = create_engine(sqlalchemy_url(url))
    migrate(engine, MIGRATIONS, "alembic_version_claims")
    return PersonalDataVault(engine, PERSONAL_DATA_KEY, owns_engine=True)


def claims_app(
    url: str,
    clock: Callable[[], dt.datetime] = lambda: NOW,
    store_env: dict[str, str] | None = None,
) -> ClaimsApplication:
    return ClaimsApplication(url, PSEUDONYM_KEY, clock, vault_for(url), store_env)


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


def replayed(application: ClaimsApplication) -> ClaimsFeedModel:
    """The application's whole feed, read into the auditor's model of it."""
    model, after = ClaimsFeedModel(), 0
    while page := application.read_feed(after, 1_000):
        for entry in page:
            model.apply(entry)
        after = page[-1].position
    return model
