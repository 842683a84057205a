"""A retroactive amendment's aggregates: the amendment (proposed, previewed, approved or
withdrawn, applied batch by batch) and, per contract, the one open now. No I/O; the use case is
in ``services/claims/amendments.py``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from shared.identifiers import stable_id

PROPOSED, APPROVED, APPLIED, WITHDRAWN = "proposed", "approved", "applied", "withdrawn"


class Amendment(Aggregate):
    """A proposed rule-book version, its previews, and its approval and application."""

    class Proposed(Aggregate.Created):
        amendment_id: str
        contract_id: str
        rulebook: dict[str, Any]
        document_sha256: str
        proposer: str
        at: str
        note: str

    class Previewed(Aggregate.Event):
        preview: dict[str, Any]

    class Approved(Aggregate.Event):
        approver: str
        preview_id: str
        rule_version: int
        at: str

    class Withdrawn(Aggregate.Event):
        by: str
        at: str
        note: str

    class Progressed(Aggregate.Event):
        through: int
        participants: int
        retired: int
        derived: int
        reverified: int
        populations: int
        population_after: str

    class Finished(Aggregate.Event):
        at: str

    @staticmethod
    def create_id(amendment_id: str, *_: Any, **__: Any) -> UUID:
        return UUID(amendment_id)

    @event(Proposed)
    def __init__(
        self,
        amendment_id: str,
        contract_id: str,
        rulebook: dict[str, Any],
        document_sha256: str,
        proposer: str,
        at: str,
        note: str,
    ) -> None:
        self.amendment_id = amendment_id
        self.contract_id = contract_id
        self.rulebook = rulebook
        self.document_sha256 = document_sha256
        self.proposer = proposer
        self.proposed_at = at
        self.note = note
        self.status = PROPOSED
        self.previews: list[dict[str, Any]] = []
        self.approver: str | None = None
        self.approved_at: str | None = None
        self.rule_version: int | None = None
        self.decided_by: str | None = None
        self.through = 0  # the feed position of the last participant's registration done
        self.population_after = ""  # the last closed population done: "closes_on id"
        self.progress = {
            "participants": 0, "populations": 0, "retired": 0, "derived": 0, "reverified": 0
        }  # fmt: skip
        self.applied_at: str | None = None

    @event(Previewed)
    def add_preview(self, preview: dict[str, Any]) -> None:
        self.previews.append(preview)

    @event(Approved)
    def approve(self, approver: str, preview_id: str, rule_version: int, at: str) -> None:
        self.status, self.approver, self.approved_at = APPROVED, approver, at
        self.rule_version = rule_version

    @event(Withdrawn)
    def withdraw(self, by: str, at: str, note: str) -> None:
        self.status, self.decided_by = WITHDRAWN, by

    @event(Progressed)
    def progressed(
        self,
        through: int,
        participants: int,
        retired: int,
        derived: int,
        reverified: int,
        populations: int,
        population_after: str,
    ) -> None:
        self.through, self.population_after = through, population_after
        for name, count in (("participants", participants), ("retired", retired),
                            ("derived", derived), ("reverified", reverified),
                            ("populations", populations)):  # fmt: skip
            self.progress[name] += count

    @event(Finished)
    def finish(self, at: str) -> None:
        self.status, self.applied_at = APPLIED, at

    @property
    def preview(self) -> dict[str, Any]:
        return self.previews[-1]

    @property
    def actor(self) -> str:
        """How the amendment is named on every claim event it causes."""
        return f"amendment:{self.amendment_id}"


class OpenAmendment(Aggregate):
    """Per contract: the amendment open now (proposed, or approved and being applied). One at
    a time, so two proposals never overlap; saving it is what serialises them."""

    class Started(Aggregate.Created):
        contract_id: str

    class Opened(Aggregate.Event):
        amendment_id: str

    class Closed(Aggregate.Event):
        amendment_id: str

    @staticmethod
    def create_id(contract_id: str) -> UUID:
        return open_amendment_id(contract_id)

    @event(Started)
    def __init__(self, contract_id: str) -> None:
        self.contract_id = contract_id
        self.open: str | None = None

    @event(Opened)
    def opened(self, amendment_id: str) -> None:
        self.open = amendment_id

    @event(Closed)
    def closed(self, amendment_id: str) -> None:
        self.open = None


def open_amendment_id(contract_id: str) -> UUID:
    return stable_id("open-amendment", contract_id)
