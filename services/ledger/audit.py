"""Audit routes of the ledger: explain a transaction, and an account's history.

Both read the transaction index (:mod:`services.ledger.index`). A transaction's explanation
leads on to its claim on the claims service (``/v1/explain/claims/{claim_id}``), where the
participant events and the rule-book computation are.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.engine import Connection

from services.ledger.errors import BookNotFound
from services.ledger.index import books, postings, transactions
from shared.auth import Principal, Role, check_contract_scope, require
from shared.errors import PROBLEM_RESPONSES, Forbidden, NotFound
from shared.feed.envelope import MAX_PAGE_SIZE, MAX_POSITION
from shared.sqlviews import aware

router = APIRouter(tags=["audit"])
Reader = Annotated[
    Principal, Depends(require(Role.ADMIN, Role.AUDITOR, Role.PAYER, Role.PROVIDER, Role.VERIFIER))
]


SUMMARY = ("transaction_id", "position", "kind", "recorded_at", "entries")


class TransactionNotFound(NotFound):
    def __init__(self, transaction_id: str) -> None:
        super().__init__(f"no transaction {transaction_id!r}")


def _row(row: Any) -> dict[str, Any]:
    return {
        "transaction_id": row.transaction_id,
        "contract_id": row.contract_id,
        "position": row.position,
        "recorded_at": aware(row.recorded_at).isoformat(),
        "kind": row.kind,
        "claim_id": row.claim_id,
        "provider_id": row.provider_id,
        "booked_period": row.booked_period,
        "entries": json.loads(row.entries),
        "details": json.loads(row.details),
    }


def explain_transaction(connection: Connection, transaction_id: str) -> dict[str, Any]:
    found = connection.execute(
        sa.select(transactions).where(transactions.c.transaction_id == transaction_id)
    ).one_or_none()
    if found is None:
        raise TransactionNotFound(transaction_id)
    related = connection.execute(
        sa.select(transactions)
        .where(transactions.c.claim_id == found.claim_id)
        .order_by(transactions.c.position)
    ).all()
    return {
        "transaction": _row(found),
        "claim": {
            "claim_id": found.claim_id,
            "explain": f"/v1/explain/claims/{found.claim_id} (claims service)",
            "transactions": [{k: _row(r)[k] for k in SUMMARY} for r in related],
        },
    }


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
        return _account_page(connection, contract_id, account[:200], after, limit)


def _account_page(
    connection: Connection, contract_id: str, account: str, after: int, limit: int
) -> dict[str, Any]:
    known = connection.execute(
        sa.select(books.c.stream_id).where(books.c.contract_id == contract_id).limit(1)
    ).first()
    if known is None:
        raise BookNotFound(contract_id)
    where = [postings.c.contract_id == contract_id, postings.c.account == account]
    balance = connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(postings.c.amount_minor), 0)).where(
            *where, postings.c.position <= after
        )
    ).scalar_one()
    rows = connection.execute(
        sa.select(
            postings,
            transactions.c.kind,
            transactions.c.claim_id,
            transactions.c.recorded_at,
            transactions.c.details,
        )
        .join(transactions, transactions.c.transaction_id == postings.c.transaction_id)
        .where(*where, postings.c.position > after)
        .order_by(postings.c.position, postings.c.line)
        .limit(limit)
    ).all()
    versions = _rulebook_versions(connection, {row.claim_id for row in rows})
    items = []
    for row in rows:
        balance += row.amount_minor
        items.append(
            {
                "position": row.position,
                "recorded_at": aware(row.recorded_at).isoformat(),
                "transaction_id": row.transaction_id,
                "kind": row.kind,
                "claim_id": row.claim_id,
                "actor": _actor(row.kind, json.loads(row.details)),
                "rulebook_version": versions.get(row.claim_id),
                "amount_minor": row.amount_minor,
                "balance_minor": int(balance),
            }
        )
    next_after = items[-1]["position"] if len(items) == limit else None
    return {
        "contract_id": contract_id,
        "account": account,
        "items": items,
        "next_after": next_after,
    }


def _actor(kind: str, details: dict[str, Any]) -> str:
    """Who caused a posting: the payer of a remittance (its id starts with the payer's actor),
    otherwise the ledger itself, booking from the claims feed."""
    if kind in ("payment", "overpayment") and "remittance_id" in details:
        return ":".join(str(details["remittance_id"]).split(":", 2)[:2])
    return "system:ledger"


def _rulebook_versions(connection: Connection, claim_ids: set[str]) -> dict[str, int]:
    """The rule-book version each claim was priced under, from its accrual's booking."""
    rows = connection.execute(
        sa.select(transactions.c.claim_id, transactions.c.details).where(
            transactions.c.claim_id.in_(sorted(claim_ids)), transactions.c.kind == "accrual"
        )
    ).all()
    found = {}
    for claim_id, details in rows:
        version = json.loads(details).get("line", {}).get("contract_version")
        if version is not None:
            found[claim_id] = int(version)
    return found
