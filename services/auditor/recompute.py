"""An auditor's independent recomputation, from the public feeds alone.

It knows no service's database, classes or keys: it reads the claims and ledger feeds, rebuilds
each participant's history and each contract's rule-book versions from them, re-derives every
claim with the pure rule engine, and re-adds every ledger posting. Differences are listed; none
means the books follow from the raw events under the rules in force.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from shared.feed.envelope import FeedEntry
from shared.rules.conditions import RecordedEvent
from shared.rules.engine import RuleBookVersion, derive
from shared.rules.model import RuleBook
from shared.rules.populations import derived_populations

RETIRED = {"voided", "reversal_requested"}
COMPARED = ("outcome_id", "occurred_on", "amount_minor", "currency", "contract_version")


@dataclass(frozen=True)
class Difference:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class ParticipantHistory:
    contract_id: str
    provider_id: str
    participant_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def history(self) -> list[RecordedEvent]:
        return [
            RecordedEvent(
                e["event_id"], e["type"], dt.date.fromisoformat(e["occurred_on"]), e["attributes"]
            )
            for e in self.events
            if not e.get("retracted")
        ]


class ClaimsFeedModel:
    """What the claims feed says: rule books, participants' histories, claims and statuses."""

    def __init__(self) -> None:
        self.rulebooks: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.participants: dict[str, ParticipantHistory] = {}
        self.claims: dict[str, dict[str, Any]] = {}
        self.verified: set[str] = set()
        self.entries = 0
        self.last_recorded: dt.date | None = None

    def apply(self, entry: FeedEntry) -> None:
        self.entries += 1
        self.last_recorded = entry.recorded_at.date()
        data, stream = entry.data, entry.stream_id
        if entry.type in ("contract.registered", "contract.amended"):
            self.rulebooks[data["rulebook"]["contract_id"]].append(data["rulebook"])
        elif entry.type == "participant.registered":
            self.participants[stream] = ParticipantHistory(
                data["contract_id"], data["provider_id"], data["participant_id"]
            )
        elif entry.type in ("participant.event_recorded", "participant.event_corrected"):
            self._record(stream, data)
        elif entry.type == "participant.event_retracted":
            self._event(stream, data["event_id"])["retracted"] = True
        elif entry.type == "claim.derived":
            self.claims[stream] = dict(data)
        elif entry.type.startswith("claim.") and "status" in data:
            self.claims[stream]["status"] = data["status"]
            if entry.type == "claim.verified":
                self.verified.add(stream)

    def _record(self, stream: str, data: dict[str, Any]) -> None:
        body = {k: data[k] for k in ("event_id", "type", "occurred_on", "attributes")}
        for event in self.participants[stream].events:
            if event["event_id"] == data["event_id"]:
                event.update(body)
                return
        self.participants[stream].events.append(body)

    def _event(self, stream: str, event_id: str) -> dict[str, Any]:
        return next(e for e in self.participants[stream].events if e["event_id"] == event_id)


def recompute_claims(model: ClaimsFeedModel) -> list[Difference]:
    """Every participant's claims, derived again, against the live claims the feed shows."""
    versions = {
        contract_id: [
            RuleBookVersion(index + 1, RuleBook.model_validate(document))
            for index, document in enumerate(documents)
        ]
        for contract_id, documents in model.rulebooks.items()
    }
    live: dict[tuple[str, str], dict[str, tuple[str, dict[str, Any]]]] = defaultdict(dict)
    for claim_id, claim in model.claims.items():
        if claim.get("status") not in RETIRED:
            owner = (claim["contract_id"], claim["participant_id"])
            live[owner][claim["claim_key"]] = (claim_id, claim)
    differences = []
    for participant in model.participants.values():
        owner = (participant.contract_id, participant.participant_id)
        derived = {
            c.claim_key: c
            for c in derive(versions[participant.contract_id], participant.history()).claims
        }
        where = f"participant {participant.participant_id} ({participant.contract_id})"
        differences += _compare(where, derived, live.pop(owner, {}))
    differences += _recompute_populations(model, versions, live)
    for (_contract, participant_id), claims in live.items():
        for claim_id, _ in claims.values():
            differences.append(Difference(f"claim {claim_id}", f"no participant {participant_id}"))
    return differences


def _recompute_populations(
    model: ClaimsFeedModel,
    versions: dict[str, list[RuleBookVersion]],
    live: dict[tuple[str, str], dict[str, tuple[str, dict[str, Any]]]],
) -> list[Difference]:
    """Every population's claim, from its members' facts (each from its own history): owed
    for every population that closed by the feed's last entry, and compared where one lives."""
    histories: dict[str, list[tuple[str, list[RecordedEvent]]]] = defaultdict(list)
    for participant in model.participants.values():
        histories[participant.contract_id].append((participant.provider_id, participant.history()))
    found: list[Difference] = []
    as_of = model.last_recorded or dt.date.min
    for contract_id, members in sorted(histories.items()):
        contract_versions = versions[contract_id]
        subjects = {subject for owner, subject in live if owner == contract_id}
        for key, derived in derived_populations(contract_versions, members, as_of, subjects):
            recorded = live.pop((contract_id, key.subject), {})
            where = f"population {key.outcome_id} {key.group} {key.period} ({contract_id})"
            found += _compare(where, derived, recorded)
    return found


def _compare(
    where: str,
    derived: dict[str, Any],
    recorded: dict[str, tuple[str, dict[str, Any]]],
) -> list[Difference]:
    found = []
    for key in sorted(set(derived) - set(recorded)):
        found.append(Difference(where, f"the rules earn {key} but the feed has no live claim"))
    for key in sorted(set(recorded) - set(derived)):
        claim_id, _ = recorded[key]
        found.append(Difference(f"claim {claim_id}", f"{key} is not earned by the history"))
    for key in sorted(set(derived) & set(recorded)):
        claim_id, claim = recorded[key]
        expected = derived[key]
        for name in COMPARED:
            value = getattr(expected, name)
            value = value.isoformat() if isinstance(value, dt.date) else value
            if claim[name] != value:
                found.append(
                    Difference(
                        f"claim {claim_id}", f"{name} is {claim[name]!r}; the rules give {value!r}"
                    )
                )
    return found


class LedgerFeedModel:
    """What the ledger feed says: each book's postings, summed per account."""

    def __init__(self) -> None:
        self.books: dict[str, str] = {}
        self.balances: dict[str, Counter[str]] = defaultdict(Counter)
        self.accruals: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.unbalanced: list[Difference] = []
        self.entries = 0

    def apply(self, entry: FeedEntry) -> None:
        self.entries += 1
        if entry.type == "ledger.book_opened":
            self.books[entry.stream_id] = entry.data["contract_id"]
        elif entry.type == "ledger.transaction_posted":
            contract_id = self.books[entry.stream_id]
            lines = entry.data["entries"]
            total = sum(int(line["amount_minor"]) for line in lines)
            if total != 0:
                where = f"transaction {entry.data['transaction_id']}"
                self.unbalanced.append(Difference(where, f"entries sum to {total}, not 0"))
            for line in lines:
                self.balances[contract_id][line["account"]] += int(line["amount_minor"])
            if entry.data["kind"] == "accrual":
                self.accruals[entry.data["claim_id"]].append(entry.data)


def check_ledger(claims: ClaimsFeedModel, ledger: LedgerFeedModel) -> list[Difference]:
    """Each verified claim accrued once, for its whole amount (accrued plus capped)."""
    found = list(ledger.unbalanced)
    for claim_id in sorted(claims.verified | set(ledger.accruals)):
        accruals = ledger.accruals.get(claim_id, [])
        if claim_id not in claims.verified:
            found.append(Difference(f"claim {claim_id}", "accrued but never verified"))
        elif len(accruals) != 1:
            found.append(Difference(f"claim {claim_id}", f"accrued {len(accruals)} times"))
        else:
            booked = sum(
                int(line["amount_minor"])
                for line in accruals[0]["entries"]
                if line["account"] == "outcome_payments"
                or line["account"].startswith("memo:capped:")
            )
            amount = claims.claims[claim_id]["amount_minor"]
            if booked != amount:
                found.append(
                    Difference(
                        f"claim {claim_id}", f"accrued and capped {booked}, claim is {amount}"
                    )
                )
    return found


def balances_from_feed(ledger: LedgerFeedModel, contract_id: str) -> dict[str, Any]:
    """The figures ``GET /v1/contracts/{id}/balances`` must show, from the postings alone."""
    accounts = ledger.balances.get(contract_id, Counter())
    providers = sorted(
        {a.split(":", 1)[1] for a in accounts if a.startswith(("payable:", "recoverable:"))}
    )
    return {
        "outcome_payments_minor": accounts["outcome_payments"],
        "paid_minor": -accounts["paid"],
        "capped_minor": sum(v for k, v in accounts.items() if k.startswith("memo:capped:")),
        "providers": {
            p: (-accounts[f"payable:{p}"], accounts[f"recoverable:{p}"]) for p in providers
        },
    }


def compare_balances(
    contract_id: str, expected: dict[str, Any], shown: dict[str, Any]
) -> list[Difference]:
    where = f"balances of {contract_id}"
    found = [
        Difference(where, f"{name} shows {shown[name]}, the postings give {expected[name]}")
        for name in ("outcome_payments_minor", "paid_minor", "capped_minor")
        if shown[name] != expected[name]
    ]
    shown_providers = {
        p["provider_id"]: (p["payable_minor"], p["recoverable_minor"]) for p in shown["providers"]
    }
    for provider in sorted(set(shown_providers) | set(expected["providers"])):
        if shown_providers.get(provider, (0, 0)) != expected["providers"].get(provider, (0, 0)):
            found.append(
                Difference(
                    where,
                    f"{provider} (payable, recoverable) shows {shown_providers.get(provider)}, "
                    f"the postings give {expected['providers'].get(provider)}",
                )
            )
    return found
