"""The performance read models, built from the claims feed (and money from the ledger feed).

Each participant event is kept as a bitemporal row; after any change to a participant's history
its report contributions are recomputed (:mod:`services.metrics.facts`) and the difference is
added to the cube. A contract amendment recomputes every participant of the contract, since new
KPIs or stages change what each one contributes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services.metrics.facts import (
    CubeKey,
    LiveEvent,
    ReportingPlan,
    contributions,
    participant_facts,
    plan_for,
)
from services.metrics.tables import (
    books,
    cube,
    events,
    money,
    participant_cube,
    participants,
    rulebooks,
)
from shared.feed.envelope import FeedEntry
from shared.rules.model import RuleBook

MAX_PLANS = 64


class PlanCache:
    """Reporting plans by rule-book document, bounded."""

    def __init__(self) -> None:
        self._plans: dict[str, tuple[RuleBook, ReportingPlan]] = {}

    def get(self, document: str) -> tuple[RuleBook, ReportingPlan]:
        if document not in self._plans:
            if len(self._plans) >= MAX_PLANS:
                self._plans.pop(next(iter(self._plans)))
            rulebook = RuleBook.model_validate(json.loads(document))
            self._plans[document] = (rulebook, plan_for(rulebook))
        return self._plans[document]


class PerformanceProjector:
    """Applies claims-feed entries to the performance read models (inside the sink's
    transaction)."""

    def __init__(self) -> None:
        self._plans = PlanCache()

    def apply(self, connection: Connection, entry: FeedEntry) -> None:
        handler = getattr(self, "_on_" + entry.type.replace(".", "_"), None)
        if handler is not None:
            handler(connection, entry)

    # ---- contracts ------------------------------------------------------------------------
    def _on_contract_registered(self, connection: Connection, entry: FeedEntry) -> None:
        self._store_rulebook(connection, entry, version=1)

    def _on_contract_amended(self, connection: Connection, entry: FeedEntry) -> None:
        contract_id = self._store_rulebook(connection, entry, version=entry.data["version"])
        streams = connection.execute(
            sa.select(participants.c.stream_id).where(participants.c.contract_id == contract_id)
        ).scalars()
        for stream_id in list(streams):
            self._recompute(connection, stream_id)

    def _store_rulebook(self, connection: Connection, entry: FeedEntry, version: int) -> str:
        document = entry.data["rulebook"]
        connection.execute(
            sa.insert(rulebooks).values(
                contract_id=document["contract_id"],
                version=version,
                document=json.dumps(document),
                recorded_at=entry.recorded_at,
            )
        )
        return str(document["contract_id"])

    # ---- participants ---------------------------------------------------------------------
    def _on_participant_registered(self, connection: Connection, entry: FeedEntry) -> None:
        connection.execute(
            sa.insert(participants).values(
                stream_id=entry.stream_id,
                contract_id=entry.data["contract_id"],
                provider_id=entry.data["provider_id"],
                recorded_at=entry.recorded_at,
            )
        )

    def _on_participant_event_recorded(self, connection: Connection, entry: FeedEntry) -> None:
        self._insert_event(connection, entry)
        self._recompute(connection, entry.stream_id)

    def _on_participant_event_corrected(self, connection: Connection, entry: FeedEntry) -> None:
        self._supersede(connection, entry)
        self._insert_event(connection, entry)
        self._recompute(connection, entry.stream_id)

    def _on_participant_event_retracted(self, connection: Connection, entry: FeedEntry) -> None:
        self._supersede(connection, entry)
        self._recompute(connection, entry.stream_id)

    def _insert_event(self, connection: Connection, entry: FeedEntry) -> None:
        contract_id = connection.execute(
            sa.select(participants.c.contract_id).where(participants.c.stream_id == entry.stream_id)
        ).scalar_one()
        connection.execute(
            sa.insert(events).values(
                position=entry.position,
                stream_id=entry.stream_id,
                contract_id=contract_id,
                event_id=entry.data["event_id"],
                type=entry.data["type"],
                occurred_on=dt.date.fromisoformat(entry.data["occurred_on"]),
                attributes=json.dumps(entry.data["attributes"], sort_keys=True),
                recorded_at=entry.recorded_at,
            )
        )

    def _supersede(self, connection: Connection, entry: FeedEntry) -> None:
        connection.execute(
            sa.update(events)
            .where(events.c.stream_id == entry.stream_id)
            .where(events.c.event_id == entry.data["event_id"])
            .where(events.c.superseded_at.is_(None))
            .values(superseded_at=entry.recorded_at)
        )

    # ---- the cube -------------------------------------------------------------------------
    def _recompute(self, connection: Connection, stream_id: str) -> None:
        owner = connection.execute(
            sa.select(participants.c.contract_id, participants.c.provider_id).where(
                participants.c.stream_id == stream_id
            )
        ).one()
        document = latest_rulebook(connection, owner.contract_id)
        if document is None:
            return
        _, plan = self._plans.get(document)
        live = connection.execute(
            sa.select(events.c.type, events.c.occurred_on, events.c.attributes)
            .where(events.c.stream_id == stream_id)
            .where(events.c.superseded_at.is_(None))
        ).all()
        facts = participant_facts(
            plan, owner.provider_id, [LiveEvent(r[0], r[1], json.loads(r[2])) for r in live]
        )
        new = contributions(plan, facts)
        old = self._stored_contributions(connection, stream_id)
        delta = Counter(new)
        delta.subtract(old or Counter())
        _add_to_cube(connection, owner.contract_id, delta)
        self._store_contributions(connection, stream_id, owner.contract_id, new, old is not None)

    def _stored_contributions(
        self, connection: Connection, stream_id: str
    ) -> Counter[CubeKey] | None:
        """The participant's stored share of the cube; ``None`` before it has one (an empty
        share, after its last event was retracted, is not ``None``)."""
        stored = connection.execute(
            sa.select(participant_cube.c.contributions).where(
                participant_cube.c.stream_id == stream_id
            )
        ).scalar_one_or_none()
        if stored is None:
            return None
        return Counter({CubeKey(*key): n for *key, n in json.loads(stored)})

    def _store_contributions(
        self,
        connection: Connection,
        stream_id: str,
        contract_id: str,
        found: Counter[CubeKey],
        existed: bool,
    ) -> None:
        text = json.dumps(sorted([*key, n] for key, n in found.items()))
        if existed:
            connection.execute(
                sa.update(participant_cube)
                .where(participant_cube.c.stream_id == stream_id)
                .values(contributions=text)
            )
        else:
            connection.execute(
                sa.insert(participant_cube).values(
                    stream_id=stream_id, contract_id=contract_id, contributions=text
                )
            )

    # ---- money (ledger feed) ----------------------------------------------------------------
    def apply_ledger(self, connection: Connection, entry: FeedEntry) -> None:
        if entry.type == "ledger.book_opened":
            connection.execute(
                sa.insert(books).values(
                    stream_id=entry.stream_id, contract_id=entry.data["contract_id"]
                )
            )
        elif entry.type == "ledger.transaction_posted":
            contract_id = connection.execute(
                sa.select(books.c.contract_id).where(books.c.stream_id == entry.stream_id)
            ).scalar_one()
            connection.execute(
                sa.insert(money).values(
                    position=entry.position,
                    contract_id=contract_id,
                    provider_id=entry.data["provider_id"],
                    kind=entry.data["kind"],
                    recorded_at=entry.recorded_at,
                    **money_movements(entry.data["entries"]),
                )
            )


def money_movements(entries: Iterable[dict[str, Any]]) -> dict[str, int]:
    """What a ledger transaction does to the three figures reports show."""
    outcome = paid = capped = 0
    for line in entries:
        account, amount = line["account"], int(line["amount_minor"])
        if account == "outcome_payments":
            outcome += amount
        elif account == "paid":
            paid -= amount
        elif account.startswith("memo:capped:"):
            capped += amount
    return {"outcome_minor": outcome, "paid_minor": paid, "capped_minor": capped}


def latest_rulebook(
    connection: Connection, contract_id: str, known_at: dt.datetime | None = None
) -> str | None:
    query = sa.select(rulebooks.c.document).where(rulebooks.c.contract_id == contract_id)
    if known_at is not None:
        query = query.where(rulebooks.c.recorded_at <= known_at)
    found = connection.execute(query.order_by(rulebooks.c.version.desc()).limit(1)).scalar()
    return str(found) if found is not None else None


def _add_to_cube(connection: Connection, contract_id: str, delta: Counter[CubeKey]) -> None:
    for key, n in delta.items():
        if n == 0:
            continue
        where = [cube.c.contract_id == contract_id] + [
            getattr(cube.c, field) == value
            for field, value in zip(CubeKey._fields, key, strict=True)
        ]
        updated = connection.execute(sa.update(cube).where(*where).values(n=cube.c.n + n)).rowcount
        if updated == 0:
            connection.execute(
                sa.insert(cube).values(contract_id=contract_id, n=n, **key._asdict())
            )
        else:
            connection.execute(sa.delete(cube).where(*where).where(cube.c.n == 0))
