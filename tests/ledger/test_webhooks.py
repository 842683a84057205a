"""Webhooks: subscriptions over HTTP, deliveries to a real receiver on loopback that fails,
hangs and recovers; signatures checked with the Standard Webhooks reference library."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import httpx
import pytest

from services.claims.application import ClaimsApplication
from services.ledger.api import create_app
from services.ledger.application import ClaimsFeedSink
from services.ledger.settings import LedgerSettings
from shared.feed.follower import Follower, LocalFeedSource
from shared.settings import CommonSettings
from tests.claims.helpers import PROVIDER
from tests.conftest import serving
from tests.ledger.test_api import CONTRACT, book_claims
from tests.receiver import Receiver, receiving, wait_for, wait_for_async
from tests.test_telemetry import samples
from tests.test_telemetry import value as sample

Auth = Callable[..., dict[str, str]]
ALL_KINDS = [
    "claim.verified",
    "claim.payable",
    "claim.reversed",
    "remittance.recorded",
    "period.closed",
]
FAST = {  # retries in tenths of a second instead of seconds to hours
    "webhook_backoff_s": 0.05,
    "webhook_backoff_max_s": 0.2,
    "webhook_timeout_s": 0.5,
}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(new_secret()) as running:
        yield running


@asynccontextmanager
async def ledger_with(
    urls: dict[str, str], common: CommonSettings, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        LedgerSettings(database_url=urls["ledger"], follow=False, **{**FAST, **settings}), common
    )
    async with serving(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def ledger(urls: dict[str, str], common: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with ledger_with(urls, common, webhook_retry_for_s=60) as client:
        yield client


def follow(claims: ClaimsApplication, ledger: httpx.AsyncClient) -> None:
    application = ledger.app.state.application  # type: ignore[attr-defined]
    Follower("t", LocalFeedSource(claims.read_feed), ClaimsFeedSink(application)).catch_up()


async def subscribe(
    ledger: httpx.AsyncClient, auth: Auth, receiver: Receiver, kinds: list[str] = ALL_KINDS
) -> dict[str, Any]:
    response = await ledger.post(
        "/v1/subscriptions",
        json={
            "contract_id": CONTRACT,
            "url": receiver.url,
            "kinds": kinds,
            "secret": receiver.secret,
        },
        headers=auth("payer", subject="p1", contract_ids=[CONTRACT]),
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/subscriptions/{response.json()['subscription_id']}"
    return dict(response.json())


async def deliveries(
    ledger: httpx.AsyncClient, auth: Auth, subscription_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = await ledger.get(
        f"/v1/subscriptions/{subscription_id}/deliveries",
        params={"limit": 1000, **params},
        headers=auth("payer", subject="p1", contract_ids=[CONTRACT]),
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_each_kind_is_pushed_signed_and_in_feed_order(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth, receiver: Receiver
) -> None:
    application = ledger.app.state.application  # type: ignore[attr-defined]
    ids = book_claims(claims, ledger, verify=0)  # the book opened; nothing verified yet
    subscription = await subscribe(ledger, auth, receiver)
    assert "secret" not in subscription and subscription["status"] == "active"
    assert subscription["start_after"] == application.head_position()
    for claim_id in ids[:2]:
        claims.verification.verify(UUID(claim_id), "verifier:v", "")
    follow(claims, ledger)
    wait_for(lambda: len(receiver.delivered()) == 4, "two verified and two payable")
    payer = {
        **auth("payer", subject="p1", contract_ids=[CONTRACT]),
        "Idempotency-Key": "remit-0001",
    }
    paid = await ledger.post(
        "/v1/remittances",
        json={
            "contract_id": CONTRACT,
            "currency": "GBP",
            "lines": [{"payable_id": str(ids[0]), "amount_minor": 10**9}],
        },
        headers=payer,
    )
    assert paid.status_code == 200, paid.text
    closed = await ledger.post(
        f"/v1/contracts/{CONTRACT}/periods/2026-01/close", headers=auth("admin")
    )
    assert closed.status_code == 200, closed.text
    wait_for(lambda: len(receiver.delivered()) == 7, "the payment, overpayment and close")

    got = receiver.delivered()
    assert all(r.verified for r in got)  # the reference library checks every signature
    kinds = [r.message["type"] for r in got]
    assert kinds == ["claim.verified", "claim.payable"] * 2 + ["remittance.recorded"] * 2 + [
        "period.closed"
    ]
    positions = [r.message["data"]["feed_position"] for r in got]
    assert positions == sorted(positions)
    verified = got[0].message["data"]
    assert verified["contract_id"] == CONTRACT and verified["claim_id"] == str(ids[0])
    assert verified["amount_minor"] == verified["accrued_minor"] > 0
    assert [r.message["data"]["posted_as"] for r in got[4:6]] == ["payment", "overpayment"]
    assert got[6].message["data"]["period"] == "2026-01"
    # the deliveries list shows each, its id the webhook-id, its body the bytes signed (a run's
    # results are recorded after its last send: wait for the record)
    sid = subscription["subscription_id"]

    async def recorded() -> bool:
        return {d["status"] for d in await deliveries(ledger, auth, sid)} == {"delivered"}

    await wait_for_async(recorded, "the deliveries recorded as delivered")
    listed = await deliveries(ledger, auth, sid)
    assert [d["delivery_id"] for d in listed] == [r.headers["webhook-id"] for r in got]
    assert [d["body"].encode() for d in listed] == [r.body for r in got]
    assert {d["status"] for d in listed} == {"delivered"} and {d["attempts"] for d in listed} == {1}


async def test_a_failing_receiver_gets_every_message_in_order_once_it_recovers(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth, receiver: Receiver
) -> None:
    receiver.mode = "fail"
    follow(claims, ledger)  # the book opens with the contract
    subscription = await subscribe(ledger, auth, receiver, ["claim.payable", "claim.reversed"])
    sid = subscription["subscription_id"]
    ids = book_claims(claims, ledger)  # six payable
    waiting: list[dict[str, Any]] = []

    async def failed_thrice() -> bool:  # as recorded, not only as the receiver saw them
        waiting[:] = await deliveries(ledger, auth, sid)
        return len(waiting) == 6 and waiting[0]["attempts"] >= 3

    await wait_for_async(failed_thrice, "three failed attempts recorded")
    assert len(waiting) == 6 and {d["status"] for d in waiting} == {"pending"}
    head = waiting[0]
    assert head["attempts"] >= 3 and head["last_status_code"] == 500
    assert head["last_error"] == "answered HTTP 500"
    assert all(d["attempts"] == 0 for d in waiting[1:])  # held behind the first, in order
    shown = (await ledger.get(f"/v1/subscriptions/{sid}", headers=auth("admin"))).json()
    assert shown["failing_since"] is not None and shown["status"] == "active"
    assert shown["deliveries"] == {"pending": 6, "delivered": 0, "cancelled": 0}

    receiver.mode = "ok"
    wait_for(lambda: len(receiver.delivered()) == 6, "the six after recovery")
    sent_ids = [r.headers["webhook-id"] for r in receiver.delivered()]
    assert sent_ids == [d["delivery_id"] for d in waiting]  # feed order, each once delivered
    failed_ids = {
        r.headers["webhook-id"] for r in receiver.received if r.headers["x-answered"] == "fail"
    }
    assert failed_ids == {head["delivery_id"]}  # retried with the same id: deduplicable
    assert {r.message["data"]["payable_id"] for r in receiver.delivered()} == set(ids)

    async def recovered() -> bool:  # the run's success is recorded after its last send
        shown = (await ledger.get(f"/v1/subscriptions/{sid}", headers=auth("admin"))).json()
        return shown["failing_since"] is None and shown["deliveries"]["delivered"] == 6

    await wait_for_async(recovered, "the recovery recorded")
    scraped = samples((await ledger.get("/metrics", headers=auth("service"))).text)
    attempts = "outcomes_webhook_attempts_total"
    assert sample(scraped, attempts, outcome="delivered") == 6  # what /metrics counts (issue 21)
    failures = sample(scraped, attempts, outcome="failed")
    assert failures is not None and failures >= 3

    claims.corrections.retract_event(CONTRACT, PROVIDER, "a-3", "provider:x", "wrong person")
    follow(claims, ledger)
    # the job start's claim and the sustainment's that rests on it are both reversed
    wait_for(lambda: len(receiver.delivered()) == 8, "the reversals")
    reversed_ = [r.message["data"] for r in receiver.delivered()[6:]]
    assert {r["claim_id"] for r in reversed_} == set(ids[1:3]), reversed_
    assert [r["unpaid_minor"] for r in reversed_] == [150_000, 250_000]


async def test_a_receiver_that_times_out_is_paused_and_resumed(
    claims: ClaimsApplication, urls: dict[str, str], common: CommonSettings, auth: Auth,
    receiver: Receiver,
) -> None:  # fmt: skip
    async with ledger_with(urls, common, webhook_retry_for_s=0.5) as ledger:
        receiver.mode = "hang"
        follow(claims, ledger)
        subscription = await subscribe(ledger, auth, receiver, ["claim.payable"])
        sid = subscription["subscription_id"]
        book_claims(claims, ledger, verify=1)
        url = f"/v1/subscriptions/{sid}"

        async def status() -> dict[str, Any]:
            return dict((await ledger.get(url, headers=auth("admin"))).json())

        paused: dict[str, Any] = {}

        async def is_paused() -> bool:
            paused.update(await status())
            return paused["status"] == "paused"

        await wait_for_async(is_paused, "the subscription paused")
        assert "timed out" in paused["status_reason"], paused
        assert paused["deliveries"]["pending"] == 2
        head = (await deliveries(ledger, auth, sid))[0]
        assert head["last_error"].startswith("timed out") and head["last_status_code"] is None
        tried = receiver.arrivals

        receiver.mode = "ok"
        receiver.release.set()
        resumed = await ledger.post(
            f"{url}/resume", headers=auth("payer", subject="p1", contract_ids=[CONTRACT])
        )
        assert resumed.status_code == 200 and resumed.json()["status"] == "active"
        wait_for(lambda: len(receiver.delivered()) == 2, "both sent")
        assert receiver.arrivals == tried + 2  # nothing was tried while paused


async def test_pause_holds_and_delete_cancels(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth, receiver: Receiver
) -> None:
    follow(claims, ledger)
    subscription = await subscribe(ledger, auth, receiver, ["claim.payable"])
    url = f"/v1/subscriptions/{subscription['subscription_id']}"
    payer = auth("payer", subject="p1", contract_ids=[CONTRACT])
    paused = await ledger.post(f"{url}/pause", headers=payer)
    assert (
        paused.json()["status"] == "paused"
        and paused.json()["status_reason"] == "paused by payer:p1"
    )
    book_claims(claims, ledger, verify=1)
    sid = subscription["subscription_id"]
    wait_for(lambda: _pending(ledger, sid) == 2, "two deliveries queued while paused")
    assert receiver.received == []
    assert (await ledger.delete(url, headers=payer)).status_code == 204
    assert (await ledger.get(url, headers=payer)).status_code == 404
    assert _pending(ledger, sid) == 0
    assert (await ledger.get("/v1/subscriptions", headers=payer)).json()["items"] == []


def _pending(ledger: httpx.AsyncClient, subscription_id: str) -> int:
    from services.ledger.webhooks import store

    engine = ledger.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return store.delivery_counts(connection, subscription_id)["pending"]


# ---- bad input and access ------------------------------------------------------------------------
@pytest.mark.parametrize("store", ["sqlite"])
async def test_bad_subscriptions_are_refused_naming_the_field(
    claims: ClaimsApplication, ledger: httpx.AsyncClient, auth: Auth
) -> None:
    book_claims(claims, ledger, verify=0)
    payer = auth("payer", subject="p1", contract_ids=[CONTRACT])
    good = {
        "contract_id": CONTRACT,
        "url": "https://payments.example.org/hooks",
        "kinds": ["claim.payable"],
        "secret": new_secret(),
    }
    refused = {
        "url": [
            "ftp://payments.example.org/hooks",
            "file:///etc/passwd",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://0.0.0.0:8000/",
            "https://user:password@payments.example.org/hooks",
            "https://payments.example.org:0/",
            "https://payments.example.org/hooks#part",
            "https:///hooks",
            "https://payments.example.org/ hooks",
            "https://payments.example.org/" + "a" * 2100,
            "http://[::1/hooks",  # a bracket left open (urlsplit raises)
            "https://payments.example.org:99999999999999999999/",
        ],
        "secret": [
            None,
            "",
            "not-a-standard-secret-at-all-but-long-enough-to-pass",
            "whsec_" + base64.b64encode(b"x" * 16).decode(),  # too short
            "whsec_" + "!" * 44,  # not base64
        ],
        "kinds": [[], ["claim.paid"], ["claim.payable", "claim.payable"], None],
        "contract_id": [None, "", "x" * 65],
    }
    for field, values in refused.items():
        for value in values:
            body = (
                {**good, field: value}
                if value is not None
                else {k: v for k, v in good.items() if k != field}
            )
            response = await ledger.post("/v1/subscriptions", json=body, headers=payer)
            assert response.status_code == 422, (field, value, response.text)
            named = [p["field"] for p in response.json()["errors"]]
            assert any(field in name for name in named), (field, value, named)
    assert (await ledger.get("/v1/subscriptions", headers=payer)).json()["items"] == []

    # roles and scope: providers and verifiers cannot subscribe, a payer only to its contracts
    for role, claims_ in (
        ("provider", {"provider_id": PROVIDER}),
        ("verifier", {}),
        ("auditor", {}),
    ):
        response = await ledger.post("/v1/subscriptions", json=good, headers=auth(role, **claims_))
        assert response.status_code == 403, role
    other = auth("payer", subject="p2", contract_ids=["another-contract"])
    assert (await ledger.post("/v1/subscriptions", json=good, headers=other)).status_code == 403
    missing = {**good, "contract_id": "no-such-contract"}
    assert (
        await ledger.post("/v1/subscriptions", json=missing, headers=auth("admin"))
    ).status_code == 404

    # an Idempotency-Key gives the same subscription again; with another body, a 409
    keyed = {**payer, "Idempotency-Key": "subscribe-0001"}
    first = await ledger.post("/v1/subscriptions", json=good, headers=keyed)
    again = await ledger.post("/v1/subscriptions", json=good, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["subscription_id"] == first.json()["subscription_id"]
    changed = {**good, "kinds": ["claim.verified"]}
    assert (await ledger.post("/v1/subscriptions", json=changed, headers=keyed)).status_code == 409
    # one new key sent thirty times at once: one subscription, every answer names it
    racing = {**payer, "Idempotency-Key": "subscribe-0002"}
    answers = await asyncio.gather(
        *[ledger.post("/v1/subscriptions", json=good, headers=racing) for _ in range(30)]
    )
    assert sorted({a.status_code for a in answers}) == [200, 201]
    assert len({a.json()["subscription_id"] for a in answers}) == 1

    # another payer (even of the same contract) does not see it; an admin does
    sid = first.json()["subscription_id"]
    peer = auth("payer", subject="p3", contract_ids=[CONTRACT])
    for method, path in (
        ("GET", f"/v1/subscriptions/{sid}"),
        ("GET", f"/v1/subscriptions/{sid}/deliveries"),
        ("POST", f"/v1/subscriptions/{sid}/pause"),
        ("DELETE", f"/v1/subscriptions/{sid}"),
    ):
        assert (await ledger.request(method, path, headers=peer)).status_code == 404, path
    assert (await ledger.get("/v1/subscriptions", headers=peer)).json()["items"] == []
    listed = (await ledger.get("/v1/subscriptions", headers=auth("admin"))).json()["items"]
    assert sorted(s["subscription_id"] for s in listed) == sorted(
        {sid, answers[0].json()["subscription_id"]}
    )
    bad_status = f"/v1/subscriptions/{sid}/deliveries?status=lost"
    assert (await ledger.get(bad_status, headers=payer)).status_code == 422


@pytest.mark.parametrize("store", ["sqlite"])
async def test_a_name_resolving_to_a_refused_address_is_not_sent_to(
    claims: ClaimsApplication, urls: dict[str, str], common: CommonSettings, auth: Auth,
    receiver: Receiver,
) -> None:  # fmt: skip
    deny = ["169.254.0.0/16", "127.0.0.0/8", "::1/128"]
    async with ledger_with(urls, common, webhook_deny_networks=deny) as ledger:
        book_claims(claims, ledger, verify=0)
        payer = auth("payer", subject="p1", contract_ids=[CONTRACT])
        literal = {
            "contract_id": CONTRACT,
            "url": receiver.url,  # http://127.0.0.1:<port>/hooks: refused as written
            "kinds": ["claim.payable"],
            "secret": receiver.secret,
        }
        response = await ledger.post("/v1/subscriptions", json=literal, headers=payer)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "url"
        by_name = {**literal, "url": receiver.url.replace("127.0.0.1", "localhost")}
        made = await ledger.post("/v1/subscriptions", json=by_name, headers=payer)
        assert made.status_code == 201  # a name is checked when it is resolved, at delivery
        sid = made.json()["subscription_id"]
        ids = book_claims(claims, ledger, verify=1)
        assert ids

        async def refused() -> bool:
            found = await deliveries(ledger, auth, sid)
            return bool(found) and found[0]["attempts"] >= 1

        await wait_for_async(refused, "a refused attempt")
        head = (await deliveries(ledger, auth, sid))[0]
        assert head["last_error"].startswith("refused target: localhost resolves to")
        assert receiver.received == []


@pytest.mark.parametrize("store", ["sqlite"])
def test_old_deliveries_are_forgotten_and_waiting_ones_never(urls: dict[str, str]) -> None:
    import datetime as dt

    import sqlalchemy as sa

    from services.ledger.webhooks import store
    from services.ledger.webhooks.dispatch import Dispatcher
    from services.ledger.webhooks.targets import DEFAULT_DENIED, networks
    from tests.stores import migrated_engine

    now = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
    old, recent = now - dt.timedelta(days=31), now - dt.timedelta(days=29)
    rows = [  # (status, created, delivered)
        ("delivered", old, old),
        ("delivered", old, recent),  # queued long ago, sent lately: kept
        ("cancelled", old, None),
        ("cancelled", recent, None),
        ("pending", old, None),  # a paused subscription's: kept however old
    ]
    with migrated_engine(urls["ledger"], "ledger") as engine:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(store.deliveries),
                [
                    {"delivery_id": f"msg_{i}", "subscription_id": "s", "position": i,
                     "kind": "claim.payable", "body": "{}", "status": status, "attempts": 0,
                     "created_at": created, "next_attempt_at": created, "delivered_at": sent}
                    for i, (status, created, sent) in enumerate(rows)
                ],
            )  # fmt: skip
        dispatcher = Dispatcher(
            engine, store.SecretBox(None), networks(DEFAULT_DENIED), kept_days=30, clock=lambda: now
        )
        try:
            assert dispatcher.prune() == 2
            assert dispatcher.prune() == 0
        finally:
            dispatcher.stop()
        with engine.connect() as connection:
            kept = connection.execute(
                sa.select(store.deliveries.c.delivery_id).order_by(store.deliveries.c.sequence)
            ).scalars()
            assert list(kept) == ["msg_1", "msg_3", "msg_4"]
