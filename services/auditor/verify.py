"""``outcomes audit verify``: read the claims and ledger feeds with an auditor token, recompute,
and print every difference. Exit code 0 only when there is none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TextIO

import httpx

from services.auditor.recompute import (
    Difference,
    balances_from_feed,
    check_ledger,
    compare_balances,
    recompute_claims,
)
from shared.feed.digest import GENESIS, extend
from shared.feed.envelope import MAX_PAGE_SIZE, FeedEntry, FeedPage
from shared.feed.models import ClaimsFeedModel, LedgerFeedModel
from shared.progress import Progress

HTTP_TIMEOUT_S = 60.0


class PageSource(Protocol):
    def read_page(self, after: int, limit: int, wait_s: float = 0.0) -> FeedPage: ...


@dataclass
class Verification:
    differences: list[Difference] = field(default_factory=list)
    digests: dict[str, tuple[int, str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def read_all(source: PageSource, apply: Callable[[FeedEntry], None], label: str) -> tuple[int, str]:
    """Apply every entry of a feed; returns (last position, digest up to it)."""
    progress = Progress(label)
    after, digest, count = 0, GENESIS, 0
    while True:
        page = source.read_page(after, MAX_PAGE_SIZE)
        if not page.items:
            break
        for entry in page.items:
            apply(entry)
        digest = extend(digest, page.items)
        after, count = page.items[-1].position, count + len(page.items)
        progress.update(after, page.head_position, count)
    progress.finish()
    return after, digest


def verify(claims: PageSource, ledger: PageSource, ledger_api: httpx.Client) -> Verification:
    result = Verification()
    claims_model, ledger_model = ClaimsFeedModel(), LedgerFeedModel()
    result.digests["claims"] = read_all(claims, claims_model.apply, "claims feed")
    result.digests["ledger"] = read_all(ledger, ledger_model.apply, "ledger feed")
    result.differences += recompute_claims(claims_model)
    result.differences += check_ledger(claims_model, ledger_model)
    for contract_id in sorted(set(ledger_model.books.values())):
        response = ledger_api.get(f"/v1/contracts/{contract_id}/balances")
        response.raise_for_status()
        expected = balances_from_feed(ledger_model, contract_id)
        result.differences += compare_balances(contract_id, expected, response.json())
    result.counts = {
        "claims feed entries": claims_model.entries,
        "participants": len(claims_model.participants),
        "claims": len(claims_model.claims),
        "ledger feed entries": ledger_model.entries,
        "books": len(ledger_model.books),
    }
    return result


def report(result: Verification, out: TextIO) -> int:
    for name, count in result.counts.items():
        out.write(f"{name}: {count}\n")
    for feed, (upto, digest) in result.digests.items():
        out.write(f"{feed} digest up to {upto}: {digest}\n")
    for difference in result.differences:
        out.write(f"DIFFERENCE {difference}\n")
    verdict = (
        "no differences" if not result.differences else f"{len(result.differences)} differences"
    )
    out.write(f"{verdict}\n")
    return 0 if not result.differences else 1
