"""Request and response bodies of the subscriptions API."""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.ledger import openapi_examples as examples
from services.ledger.webhooks.messages import MessageKind

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)
SECRET_BYTES = (24, 64)


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "contract_id": "ips-employment",
                    "url": "https://payments.example.gov/outcomes/webhooks",
                    "kinds": [MessageKind.CLAIM_PAYABLE.value, MessageKind.CLAIM_REVERSED.value],
                    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    "description": "the treasury's payment run",
                }
            ]
        },
    )
    contract_id: str = Field(min_length=1, max_length=64)
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Where deliveries are POSTed: http or https, never a link-local or cloud "
        "metadata address",
    )
    kinds: list[MessageKind] = Field(
        min_length=1, max_length=len(MessageKind), description="The messages wanted"
    )
    secret: str = Field(
        min_length=len(SECRET_PREFIX) + 32,
        max_length=len(SECRET_PREFIX) + 88,
        description="A Standard Webhooks secret: `whsec_` and 24 to 64 random bytes in base64. "
        "It signs every delivery and is never shown again",
    )
    description: str | None = Field(
        default=None, max_length=200, description="For people: whose endpoint, what for"
    )

    @field_validator("kinds")
    @classmethod
    def _distinct(cls, kinds: list[MessageKind]) -> list[MessageKind]:
        if len(set(kinds)) != len(kinds):
            raise ValueError("each kind once")
        return sorted(kinds)

    @field_validator("secret")
    @classmethod
    def _secret(cls, secret: str) -> str:
        low, high = SECRET_BYTES
        message = f"`{SECRET_PREFIX}` followed by {low} to {high} random bytes in base64"
        if not secret.startswith(SECRET_PREFIX):
            raise ValueError(message)
        try:
            raw = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(message) from None
        if not low <= len(raw) <= high:
            raise ValueError(message)
        return secret


class DeliveryCounts(BaseModel):
    pending: int
    delivered: int
    cancelled: int


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SUBSCRIPTION_OUT]})
    subscription_id: str
    contract_id: str
    owner: str = Field(description="Who made it: `payer:<id>` or `admin:<id>`")
    url: str
    kinds: list[MessageKind]
    description: str | None
    status: str = Field(description="`active`, or `paused` (by its owner or after failing)")
    status_reason: str | None = Field(description="Why it is paused, with the last failure")
    failing_since: dt.datetime | None = Field(
        description="The first failed attempt since the last success, or null"
    )
    start_after: int = Field(
        description="The ledger feed position it was made at: it is told of what is booked after"
    )
    created_at: dt.datetime
    changed_at: dt.datetime
    deliveries: DeliveryCounts


class SubscriptionsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SUBSCRIPTIONS_OUT]})
    items: list[SubscriptionOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null at the end")


class DeliveryOut(BaseModel):
    delivery_id: str = Field(description="The `webhook-id` header: the same on every retry")
    sequence: int = Field(description="Its place in the subscription's queue (a cursor)")
    kind: MessageKind
    feed_position: int = Field(description="The ledger feed entry it came from")
    status: str = Field(description="`pending`, `delivered`, or `cancelled` (deleted)")
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    last_status_code: int | None = Field(description="The receiver's last HTTP status, if any")
    last_error: str | None = Field(description="Why the last attempt failed, if it did")
    body: str = Field(description="The JSON sent, exactly (its signature covers these bytes)")


class DeliveriesOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DELIVERIES_OUT]})
    subscription_id: str
    items: list[DeliveryOut]
    next_after: int = Field(
        description="Pass as `after` to read on; on the last page, asking again with it "
        "gives only deliveries queued since"
    )
