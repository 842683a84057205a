"""Metrics use cases: reports read from the SQL read models, never by replaying events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.metrics.domain import CATALOGUE
from services.metrics.errors import ContractNotTracked
from services.metrics.projections import contracts, funnel_counts
from shared.eventstore import OutcomesApplication

CLAIMS_UPSTREAM = "claims"


class MetricsApplication(OutcomesApplication):
    name = "metrics"
    catalogue = CATALOGUE


@dataclass
class StageCount:
    participants: int = 0
    events: int = 0


@dataclass
class Funnel:
    contract_id: str
    stages: list[str]
    overall: dict[str, StageCount] = field(default_factory=dict)
    by_provider: dict[str, dict[str, StageCount]] = field(default_factory=dict)
    by_month: dict[str, dict[str, StageCount]] = field(default_factory=dict)


def contract_providers(engine: Engine, contract_id: str) -> list[str]:
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(contracts.c.providers).where(contracts.c.contract_id == contract_id)
        ).scalar_one_or_none()
    if found is None:
        raise ContractNotTracked(contract_id)
    providers: list[str] = json.loads(found)
    return providers


def funnel(engine: Engine, contract_id: str, provider_id: str | None = None) -> Funnel:
    """Participants and events per stage: overall, per provider, per month of occurrence."""
    with engine.connect() as connection:
        stages_json = connection.execute(
            sa.select(contracts.c.stages).where(contracts.c.contract_id == contract_id)
        ).scalar_one_or_none()
        if stages_json is None:
            raise ContractNotTracked(contract_id)
        query = sa.select(funnel_counts).where(funnel_counts.c.contract_id == contract_id)
        if provider_id is not None:
            query = query.where(funnel_counts.c.provider_id == provider_id)
        rows = connection.execute(query).all()
    stages = json.loads(stages_json)
    result = Funnel(contract_id, stages, overall={s: StageCount() for s in stages})
    for row in rows:
        for bucket in (
            result.overall,
            result.by_provider.setdefault(row.provider_id, {s: StageCount() for s in stages}),
            result.by_month.setdefault(row.month, {s: StageCount() for s in stages}),
        ):
            count = bucket.setdefault(row.event_type, StageCount())
            count.participants += row.participants
            count.events += row.events
    result.by_month = dict(sorted(result.by_month.items()))
    result.by_provider = dict(sorted(result.by_provider.items()))
    return result
