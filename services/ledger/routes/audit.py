"""Audit routes of the ledger: explain a transaction, and an account's history.

Both read the transaction index (its queries are in
:mod:`services.ledger.readmodels.transactions`). A transaction's explanation leads on to its
claim on the claims service (``/v1/explain/claims/{claim_id}``), where the participant events
and the rule-book computation are.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from services.ledger.readmodels.transactions import account_page, explain_transaction
from shared.auth import Principal, Role, check_contract_scope, require
from shared.errors import PROBLEM_RESPONSES, Forbidden
from shared.feed.envelope import MAX_PAGE_SIZE, MAX_POSITION

router = APIRouter(tags=["audit"])
Reader = Annotated[
    Principal, Depends(require(Role.ADMIN, Role.AUDITOR, Role.PAYER, Role.PROVIDER, Role.VERIFIER))
]


def as_text(explained: dict[str, Any]) -> str:
    t = explained["transaction"]
    lines = [
        f"Transaction {t['transaction_id']} ({t['kind']}) in the book of {t['contract_id']}",
        f"  feed position {t['position']}, recorded {t['recorded_at']}, "
        f"period {t['booked_period']}",
        f"  for claim {t['claim_id']} of provider {t['provider_id']}",
        "Entries (debit positive, credit negative):",
        *(f"  {e['account']:40} {e['amount_minor']:>14}" for e in t["entries"]),
        "Details:",
        *(f"  {key}: {value}" for key, value in t["details"].items()),
        f"Every transaction of claim {t['claim_id']}:",
        *(
            f"  #{r['position']} {r['recorded_at']} {r['kind']} {r['transaction_id']}"
            for r in explained["claim"]["transactions"]
        ),
        f"Why the claim is worth what it is: {explained['claim']['explain']}",
    ]
    return "\n".join(lines) + "\n"


@router.get(
    "/v1/explain/ledger/{transaction_id}",
    summary="Explain a ledger transaction",
    responses={
        **PROBLEM_RESPONSES,
        404: {"description": "No such transaction"},
        200: {"content": {"text/plain": {}}},
    },
)
def explain(request: Request, transaction_id: str, principal: Reader) -> Any:
    """A ledger transaction: its entries and details (caps applied, netting), its feed position,
    every other transaction of the same claim, and where the claim itself is explained.
    `Accept: text/plain` gives the same to read."""
    with request.app.state.engine.connect() as connection:
        explained = explain_transaction(connection, transaction_id[:64])
    transaction = explained["transaction"]
    check_contract_scope(principal, transaction["contract_id"])
    if principal.role is Role.PROVIDER and transaction["provider_id"] != principal.provider_id:
        raise Forbidden("a provider may read only its own transactions")
    if "text/plain" in request.headers.get("accept", ""):
        return PlainTextResponse(as_text(explained))
    return explained


@router.get(
    "/v1/contracts/{contract_id}/accounts/{account}/history",
    summary="Read an account's postings",
    responses={**PROBLEM_RESPONSES, 404: {"description": "No book for this contract"}},
)
def account_history(
    request: Request,
    contract_id: str,
    account: str,
    principal: Reader,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="Feed position")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> dict[str, Any]:
    """Every posting to one account of a contract's book, in order, with the running balance
    (debits positive). Page with `after` (the last position seen)."""
    check_contract_scope(principal, contract_id)
    if principal.role is Role.PROVIDER and account.split(":", 1)[-1] != principal.provider_id:
        raise Forbidden("a provider may read only its own accounts")
    with request.app.state.engine.connect() as connection:
        return account_page(connection, contract_id, account[:200], after, limit)
