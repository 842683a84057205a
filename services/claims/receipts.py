"""Intake receipts: which provider event ids were recorded, and what was answered then.

A receipt is keyed by (contract, provider, event id) and says which participant's stream
the event went to and at which version, the digest of the body it came with, and the claims
it derived or retired. A retried POST with the same body gets the first answer back; with
another body it is refused; a correction finds its event's participant by it.

Receipts are rows of ``intake_receipts``, a table beside the event store inserted in the
transaction that records the events (:mod:`shared.sidetables`): its primary key refuses a
second recording of the same event id as the receipt aggregate's stream did, at a stored
record fewer per participant event (issue 20, point 2). Receipts issued before it are
``IntakeReceipt`` aggregates in the event store, and are still read where a row is missing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.claims.domain import IntakeReceipt
from shared.eventstore import OutcomesApplication
from shared.sidetables import Column, SideRows, SideTable

TABLE = "intake_receipts"
COLUMNS = (
    Column("receipt_id", "uuid", "TEXT"),
    Column("participant_id", "text NOT NULL", "TEXT NOT NULL"),
    Column("stream_version", "integer NOT NULL", "INTEGER NOT NULL"),
    Column("body_sha256", "text NOT NULL", "TEXT NOT NULL"),
    Column("claim_ids", "text NOT NULL", "TEXT NOT NULL"),  # JSON lists of claim ids
    Column("retired_claim_ids", "text NOT NULL", "TEXT NOT NULL"),
)


@dataclass(frozen=True)
class Receipt:
    participant_id: str
    participant_stream_version: int
    body_sha256: str
    claim_ids: list[str]
    retired_claim_ids: list[str]


class Receipts:
    def __init__(self, store: OutcomesApplication) -> None:
        self._store = store
        self._table = SideTable(store.recorder, store.database_url, TABLE, COLUMNS)

    def find(self, keys: Collection[UUID]) -> dict[UUID, Receipt]:
        """The receipts of these keys that exist: one query per 500 keys, and one more for
        those not found among the rows (receipts stored as aggregates before)."""
        found = {key: _from_row(row) for key, row in self._table.find(keys).items()}
        missing = [key for key in keys if key not in found]
        for key, legacy in self._store.load_many(missing, IntakeReceipt).items():
            found[key] = Receipt(
                legacy.participant_id,
                legacy.participant_stream_version,
                legacy.body_sha256,
                list(legacy.claim_ids),
                list(legacy.retired_claim_ids),
            )
        return found

    def get(self, key: UUID) -> Receipt | None:
        return self.find([key]).get(key)

    def rows(self, issued: Sequence[tuple[UUID, Receipt]]) -> SideRows:
        """New receipts as rows to save with the events they describe."""
        return self._table.rows(
            [
                (
                    key,
                    r.participant_id,
                    r.participant_stream_version,
                    r.body_sha256,
                    json.dumps(r.claim_ids),
                    json.dumps(r.retired_claim_ids),
                )
                for key, r in issued
            ]
        )


def _from_row(row: tuple[Any, ...]) -> Receipt:
    _, participant_id, stream_version, body_sha256, claim_ids, retired = row
    return Receipt(
        str(participant_id),
        int(stream_version),
        str(body_sha256),
        list(json.loads(claim_ids)),
        list(json.loads(retired)),
    )
