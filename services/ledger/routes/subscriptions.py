"""Webhook subscriptions: make one, read it and its deliveries, pause, resume, delete.

Admins and payers may subscribe (a payer to the contracts its token covers); each sees and
changes only its own subscriptions, except admins, who see all. Another's subscription is a
404, as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from services.ledger.routes.common import BOOK_ERRORS, ledger
from services.ledger.webhooks import store
from services.ledger.webhooks.schemas import (
    DeliveriesOut,
    DeliveryCounts,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionsOut,
)
from shared.auth import Principal, Role, check_contract_scope, require
from shared.errors import PROBLEM_RESPONSES, NotFound
from shared.feed.envelope import MAX_PAGE_SIZE, MAX_POSITION
from shared.sqlviews import aware

router = APIRouter(tags=["webhooks"])
Subscriber = Annotated[Principal, Depends(require(Role.ADMIN, Role.PAYER))]
SubscriptionId = Annotated[str, Path(min_length=36, max_length=36)]
ERRORS = {**PROBLEM_RESPONSES, 404: {"description": "No such subscription of yours"}}


class SubscriptionNotFound(NotFound):
    def __init__(self, subscription_id: str) -> None:
        super().__init__(f"no subscription {subscription_id!r} of yours")


def _webhooks(request: Request) -> Any:
    return request.app.state.webhooks


def _out(connection: Any, row: Any) -> SubscriptionOut:
    return SubscriptionOut(
        subscription_id=row.subscription_id,
        contract_id=row.contract_id,
        owner=row.owner,
        url=row.url,
        kinds=row.kinds.split(","),
        description=row.description,
        status=row.status,
        status_reason=row.status_reason,
        failing_since=aware(row.failing_since) if row.failing_since else None,
        start_after=row.start_after,
        created_at=aware(row.created_at),
        changed_at=aware(row.changed_at),
        deliveries=DeliveryCounts(**store.delivery_counts(connection, row.subscription_id)),
    )


def _own(connection: Any, principal: Principal, subscription_id: str) -> Any:
    row = store.subscription_row(connection, subscription_id)
    if row is None or row.status == store.DELETED:
        raise SubscriptionNotFound(subscription_id)
    if principal.role is not Role.ADMIN and row.owner != principal.actor:
        raise SubscriptionNotFound(subscription_id)
    if not principal.may_act_on_contract(row.contract_id):  # an admin limited to contracts
        raise SubscriptionNotFound(subscription_id)
    return row


@router.post(
    "/v1/subscriptions",
    summary="Subscribe a webhook",
    status_code=201,
    response_model=SubscriptionOut,
    responses={
        **BOOK_ERRORS,
        200: {"description": "Made before with this Idempotency-Key and body"},
        409: {"description": "Idempotency-Key reused with another body, or too many"},
    },
)
def create_subscription(
    request: Request,
    response: Response,
    body: SubscriptionIn,
    principal: Subscriber,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=8, max_length=128)
    ] = None,
) -> SubscriptionOut:
    """Subscribe a URL to what is booked on a contract from now on: each message is POSTed,
    signed with the secret (Standard Webhooks), in feed order, retried with backoff for at
    least 24 hours. See docs/payers.md, "Pushed to you"."""
    check_contract_scope(principal, body.contract_id)
    application = ledger(request)
    application.book(body.contract_id)  # 404 for a contract the ledger has no book of
    subscription_id, made = _webhooks(request).subscribe(
        principal.actor, body, idempotency_key, application.head_position()
    )
    response.headers["Location"] = f"/v1/subscriptions/{subscription_id}"
    if not made:
        response.status_code = 200
    with request.app.state.engine.connect() as connection:
        return _out(connection, store.subscription_row(connection, subscription_id))


@router.get(
    "/v1/subscriptions",
    summary="List webhook subscriptions",
    response_model=SubscriptionsOut,
    responses=PROBLEM_RESPONSES,
)
def list_subscriptions(
    request: Request,
    principal: Subscriber,
    contract_id: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[str, Query(max_length=36, description="`next_after` of the last page")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> SubscriptionsOut:
    """Your subscriptions (an admin: everyone's, on the contracts its token covers), by id."""
    owner = None if principal.role is Role.ADMIN else principal.actor
    scope = principal.contract_ids if principal.scoped else None
    with request.app.state.engine.connect() as connection:
        rows = store.subscription_page(connection, owner, contract_id, after, limit, scope)
        items = [_out(connection, row) for row in rows]
    next_after = items[-1].subscription_id if len(items) == limit else None
    return SubscriptionsOut(items=items, next_after=next_after)


@router.get(
    "/v1/subscriptions/{subscription_id}",
    summary="Read a webhook subscription",
    response_model=SubscriptionOut,
    responses=ERRORS,
)
def get_subscription(
    request: Request, principal: Subscriber, subscription_id: SubscriptionId
) -> SubscriptionOut:
    """One subscription: its URL, contract and kinds, whether it is active or paused (and why),
    and how far its deliveries have gone. Yours, or any on your contracts for an admin."""
    with request.app.state.engine.connect() as connection:
        return _out(connection, _own(connection, principal, subscription_id))


def _change(request: Request, principal: Principal, subscription_id: str, status: str) -> Any:
    with request.app.state.engine.begin() as connection:
        row = _own(connection, principal, subscription_id)
        reason = f"paused by {principal.actor}" if status == store.PAUSED else None
        store.set_status(connection, subscription_id, status, reason, dt.datetime.now(dt.UTC))
        changed = _out(connection, store.subscription_row(connection, row.subscription_id))
    _webhooks(request).wake()
    return changed


@router.post(
    "/v1/subscriptions/{subscription_id}/pause",
    response_model=SubscriptionOut,
    responses=ERRORS,
    summary="Pause a webhook subscription",
)
def pause_subscription(
    request: Request, principal: Subscriber, subscription_id: SubscriptionId
) -> SubscriptionOut:
    """Stop sending; deliveries keep being queued, and go, in order, when it is resumed."""
    result: SubscriptionOut = _change(request, principal, subscription_id, store.PAUSED)
    return result


@router.post(
    "/v1/subscriptions/{subscription_id}/resume",
    response_model=SubscriptionOut,
    responses=ERRORS,
    summary="Resume a webhook subscription",
)
def resume_subscription(
    request: Request, principal: Subscriber, subscription_id: SubscriptionId
) -> SubscriptionOut:
    """Send again, starting at once with the oldest delivery waiting (after a pause for
    failures: fix the receiver first)."""
    result: SubscriptionOut = _change(request, principal, subscription_id, store.ACTIVE)
    return result


@router.delete(
    "/v1/subscriptions/{subscription_id}",
    summary="Delete a webhook subscription",
    status_code=204,
    responses=ERRORS,
)
def delete_subscription(
    request: Request, principal: Subscriber, subscription_id: SubscriptionId
) -> Response:
    """Stop for good: deliveries still waiting are cancelled."""
    _change(request, principal, subscription_id, store.DELETED)
    return Response(status_code=204)


@router.get(
    "/v1/subscriptions/{subscription_id}/deliveries",
    summary="List a subscription's deliveries",
    response_model=DeliveriesOut,
    responses=ERRORS,
)
def list_deliveries(
    request: Request,
    principal: Subscriber,
    subscription_id: SubscriptionId,
    status: Annotated[
        str | None, Query(pattern="^(pending|delivered|cancelled)$", description="Only these")
    ] = None,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Cursor: `next_after` of the last page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> DeliveriesOut:
    """A subscription's deliveries in queue (feed) order: what was sent, when, how often, and
    why the last attempt failed. A receiver that lost messages can read their bodies here."""
    with request.app.state.engine.connect() as connection:
        _own(connection, principal, subscription_id)
        rows = store.delivery_page(connection, subscription_id, status, after, limit)
    items = [store.delivery_out(row) for row in rows]
    next_after = items[-1]["sequence"] if items else after
    return DeliveriesOut.model_validate(
        {"subscription_id": subscription_id, "items": items, "next_after": next_after}
    )
