"""The access trail records who did what, when and how it ended; it can only grow."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from tests.claims.conftest import load_examples
from tests.claims.helpers import PROVIDER, story_json

Auth = Callable[..., dict[str, str]]


async def test_writes_and_reads_are_recorded_with_actor_and_outcome(
    service: httpx.AsyncClient, auth: Auth
) -> None:
    await load_examples(service, auth("admin"), "ips-employment")
    provider = auth("provider", provider_id=PROVIDER)
    answer = await service.post(
        "/v1/contracts/ips-employment/events", json=story_json()[0], headers=provider
    )
    participant = answer.json()["participant_id"]
    await service.get(f"/v1/contracts/ips-employment/participants/{participant}", headers=provider)
    await service.get(
        f"/v1/contracts/ips-employment/participants/{participant}",
        headers=auth("provider", provider_id="riverside-works"),
    )
    await service.get("/feed", headers=auth("service"))
    await service.get("/feed", headers=auth("auditor"))
    await service.get("/healthz")
    trail = (await service.get("/v1/audit/access-trail", headers=auth("auditor"))).json()
    seen = [
        (t["actor"], t["method"], t["path"].replace(participant, "{p}"), t["status"]) for t in trail
    ]
    assert seen == [
        ("admin:admin", "POST", "/v1/contracts", 201),
        (f"provider:{PROVIDER}", "POST", "/v1/contracts/ips-employment/events", 201),
        (f"provider:{PROVIDER}", "GET", "/v1/contracts/ips-employment/participants/{p}", 200),
        ("provider:riverside-works", "GET", "/v1/contracts/ips-employment/participants/{p}", 403),
        ("auditor:auditor", "GET", "/feed", 200),
    ]
    page = (
        await service.get(
            f"/v1/audit/access-trail?after={trail[1]['id']}&actor=auditor:auditor",
            headers=auth("admin"),
        )
    ).json()
    assert [t["path"] for t in page] == [
        "/feed",
        "/v1/audit/access-trail",
    ]  # reading it is recorded too


async def test_the_trail_cannot_be_edited_on_postgresql(
    service: httpx.AsyncClient, auth: Auth, store: str
) -> None:
    await service.get("/v1/claims", headers=auth("auditor"))
    engine = service._transport.app.state.engine  # type: ignore[attr-defined]
    if store != "postgres":
        assert engine.dialect.name == "sqlite"  # SQLite has no trigger language for this
        return
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(sa.text("UPDATE access_trail SET actor = 'someone-else'"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM access_trail"))


async def test_the_trail_names_the_caller_the_route_verified_without_verifying_again(
    service: httpx.AsyncClient, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20, point 3: a request's token is verified once, by the route's dependency; the
    trail takes the caller from it. A request refused before any route (a bad path) still
    has its caller named, from the token."""
    from shared.auth import TokenSigner

    await load_examples(service, auth("admin"), "ips-employment")
    provider = auth("provider", provider_id=PROVIDER)
    verified: list[str] = []
    real_verify = TokenSigner.verify

    def counting(self: TokenSigner, token: str, use: str | None = None) -> object:
        verified.append(token)
        return real_verify(self, token, use)

    monkeypatch.setattr(TokenSigner, "verify", counting)
    answer = await service.post(
        "/v1/contracts/ips-employment/events", json=story_json()[0], headers=provider
    )
    assert answer.status_code == 201
    assert len(verified) == 1
    assert (await service.get("/v1/no-such-route", headers=provider)).status_code == 404
    assert len(verified) == 2  # no route read the token: the trail did
    trail = (await service.get("/v1/audit/access-trail", headers=auth("auditor"))).json()
    assert [(t["actor"], t["path"], t["status"]) for t in trail[-2:]] == [
        (f"provider:{PROVIDER}", "/v1/contracts/ips-employment/events", 201),
        (f"provider:{PROVIDER}", "/v1/no-such-route", 404),
    ]
