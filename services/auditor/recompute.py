"""An auditor's independent recomputation, from the public feeds alone.

It knows no service's database, classes or keys: it reads the claims and ledger feeds, rebuilds
each participant's history and each contract's rule-book versions from them, re-derives every
claim with the pure rule engine, and re-adds every ledger posting. Differences are listed; none
means the books follow from the raw events under the rules in force.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from shared.feed import accounts as chart
from shared.feed.models import ClaimsFeedModel, FeedClaim, LedgerFeedModel
from shared.rules.conditions import RecordedEvent
from shared.rules.engine import RuleBookVersion, derive
from shared.rules.model import RuleBook
from shared.rules.populations import derived_populations

COMPARED = ("outcome_id", "occurred_on", "amount_minor", "currency", "contract_version")


@dataclass(frozen=True)
class Difference:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def recompute_claims(model: ClaimsFeedModel) -> list[Difference]:
    """Every participant's claims, derived again, against the live claims the feed shows."""
    versions = {
        contract_id: [
            RuleBookVersion(index + 1, RuleBook.model_validate(document))
            for index, document in enumerate(documents)
        ]
        for contract_id, documents in model.rulebooks.items()
    }
    live: dict[tuple[str, str], dict[str, FeedClaim]] = defaultdict(dict)
    for claim in model.live_claims():
        live[(claim.contract_id, claim.participant_id)][claim.claim_key] = claim
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
        for claim in claims.values():
            differences.append(
                Difference(f"claim {claim.claim_id}", f"no participant {participant_id}")
            )
    return differences


def _recompute_populations(
    model: ClaimsFeedModel,
    versions: dict[str, list[RuleBookVersion]],
    live: dict[tuple[str, str], dict[str, FeedClaim]],
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
    recorded: dict[str, FeedClaim],
) -> list[Difference]:
    found = []
    for key in sorted(set(derived) - set(recorded)):
        found.append(Difference(where, f"the rules earn {key} but the feed has no live claim"))
    for key in sorted(set(recorded) - set(derived)):
        claim_id = recorded[key].claim_id
        found.append(Difference(f"claim {claim_id}", f"{key} is not earned by the history"))
    for key in sorted(set(derived) & set(recorded)):
        claim = recorded[key]
        expected = derived[key]
        for name in COMPARED:
            value = getattr(expected, name)
            value = value.isoformat() if isinstance(value, dt.date) else value
            shown = getattr(claim, name)
            if shown != value:
                found.append(
                    Difference(
                        f"claim {claim.claim_id}", f"{name} is {shown!r}; the rules give {value!r}"
                    )
                )
    return found


def check_ledger(claims: ClaimsFeedModel, ledger: LedgerFeedModel) -> list[Difference]:
    """Each verified claim accrued once, for its whole amount (accrued plus capped)."""
    found = [
        Difference(f"transaction {u.transaction_id}", f"entries sum to {u.total_minor}, not 0")
        for u in ledger.unbalanced
    ]
    for claim_id in sorted(claims.verified | set(ledger.accruals)):
        accruals = ledger.accruals.get(claim_id, [])
        if claim_id not in claims.verified:
            found.append(Difference(f"claim {claim_id}", "accrued but never verified"))
        elif len(accruals) != 1:
            found.append(Difference(f"claim {claim_id}", f"accrued {len(accruals)} times"))
        else:
            booked = sum(
                leg.amount_minor
                for leg in accruals[0].entries
                if leg.account == chart.OUTCOME_PAYMENTS
                or leg.account.startswith(chart.CAPPED_PREFIX)
            )
            amount = claims.claims[claim_id].amount_minor
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
    owed = (chart.PAYABLE_PREFIX, chart.RECOVERABLE_PREFIX)
    providers = sorted({a.split(":", 1)[1] for a in accounts if a.startswith(owed)})
    return {
        "outcome_payments_minor": accounts[chart.OUTCOME_PAYMENTS],
        "paid_minor": -accounts[chart.PAID],
        "capped_minor": sum(v for k, v in accounts.items() if k.startswith(chart.CAPPED_PREFIX)),
        "providers": {
            p: (-accounts[chart.payable_account(p)], accounts[chart.recoverable_account(p)])
            for p in providers
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
