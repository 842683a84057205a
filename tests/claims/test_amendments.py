"""Retroactive amendments with four eyes: a version effective in the past is proposed with a
preview of its effect, approved by another admin (on a preview that is still true), then applied
in the background: changed claims retired and derived again, verified ones reversed and
re-verified, each naming the amendment; the ledger books it and the auditor's replay agrees."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import yaml

import services.claims.amendments as amendments_module
from services.auditor.recompute import recompute_claims
from services.claims.application import ClaimsApplication
from services.claims.previews import preview_of
from services.claims.whatif import what_if
from services.ledger.application import ClaimsFeedSink, LedgerApplication
from services.ledger.lines import LineState
from shared.feed.catalogue import TransactionPosted
from shared.feed.follower import Follower, LocalFeedSource
from shared.rules.model import RuleBook, parse_rulebook
from tests.claims.conftest import EXAMPLES, load_examples
from tests.claims.helpers import OTHER_PROVIDER, PROVIDER, replayed, story_json
from tests.claims.test_api import client, wait_for_claims
from tests.conftest import IPS_RULEBOOK

__all__ = ["client"]  # the fixture

Auth = Callable[..., dict[str, str]]
CONTRACT = "ips-employment"
AMENDMENTS = f"/v1/contracts/{CONTRACT}/amendments"
YAML = {"Content-Type": "application/yaml"}


def amended(price: str = "1800.00", effective_from: str = "2026-03-15") -> str:
    """The IPS rule book with the job start priced anew from a day in the past."""
    text = IPS_RULEBOOK.read_text()
    assert 'price: "1500.00"' in text and 'effective_from: "2025-01-01"' in text
    return text.replace('price: "1500.00"', f'price: "{price}"').replace(
        'effective_from: "2025-01-01"', f'effective_from: "{effective_from}"'
    )


def admin(auth: Auth, who: str) -> dict[str, str]:
    return auth("admin", subject=who)


async def record_story(client: httpx.AsyncClient, auth: Auth, provider: str, ref: str) -> None:
    for event in story_json(ref, prefix=ref):
        answer = await client.post(
            f"/v1/contracts/{CONTRACT}/events", json=event,
            headers=auth("provider", provider_id=provider),
        )  # fmt: skip
        assert answer.status_code == 201, answer.text


async def applied(client: httpx.AsyncClient, auth: Auth, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        found: dict[str, Any] = (await client.get(location, headers=auth("auditor"))).json()
        if found["status"] == "applied":
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)


async def claims_by_trigger(
    client: httpx.AsyncClient, auth: Auth
) -> dict[str, list[dict[str, Any]]]:
    listed = (await client.get("/v1/claims", params={"limit": 500}, headers=auth("admin"))).json()
    found: dict[str, list[dict[str, Any]]] = {}
    for item in listed["items"]:
        full = (await client.get(f"/v1/claims/{item['claim_id']}", headers=auth("admin"))).json()
        found.setdefault(full["trigger_event_id"], []).append(full)
    return found


async def test_propose_approve_by_another_and_apply(client: httpx.AsyncClient, auth: Auth) -> None:
    await record_story(client, auth, PROVIDER, "a")
    claims = await wait_for_claims(client, auth("admin"), 3)
    job_start = next(c for c in claims if c["trigger_event_id"] == "a-3")
    verified = await client.post(
        f"/v1/claims/{job_start['claim_id']}/verify", headers=auth("verifier")
    )
    assert verified.status_code == 200, verified.text

    proposed = await client.post(
        AMENDMENTS, params={"note": "job starts were under-priced"}, content=amended(),
        headers=admin(auth, "alice") | YAML,
    )  # fmt: skip
    assert proposed.status_code == 201, proposed.text
    amendment = proposed.json()
    location = proposed.headers["Location"]
    assert (amendment["status"], amendment["effective_from"]) == ("proposed", "2026-03-15")
    preview = amendment["preview"]
    assert (preview["differing_claims"], preview["difference_minor"]) == (1, 30_000)
    [example] = preview["examples"]
    assert (example["outcome_id"], example["actual_minor"], example["what_if_minor"]) == (
        "job_start", 150_000, 180_000
    )  # fmt: skip
    # nothing changed yet: the live claim keeps its price
    live = await client.get(f"/v1/claims/{job_start['claim_id']}", headers=auth("admin"))
    assert (live.json()["status"], live.json()["amount_minor"]) == ("verified", 150_000)

    another = await client.post(AMENDMENTS, content=amended("1900.00"),
                                headers=admin(auth, "carol") | YAML)  # fmt: skip
    assert (
        another.status_code == 409 and another.json()["amendment_id"] == amendment["amendment_id"]
    )

    approve = f"{location}/approve"
    by_proposer = await client.post(approve, json={"preview_id": preview["preview_id"]},
                                    headers=admin(auth, "alice"))  # fmt: skip
    assert by_proposer.status_code == 403, by_proposer.text
    wrong = await client.post(approve, json={"preview_id": "pv_0"}, headers=admin(auth, "bob"))
    assert wrong.status_code == 409 and wrong.json()["preview_id"] == preview["preview_id"]

    approved = await client.post(approve, json={"preview_id": preview["preview_id"]},
                                 headers=admin(auth, "bob"))  # fmt: skip
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["version"]) == ("approved", 2)
    done = await applied(client, auth, location)
    # the job start (verified: reversed, re-verified) and the 13 weeks (same price, but now
    # priced by version 2: re-derived so that every claim names the version that priced it)
    assert done["progress"] == {
        "participants": 1, "populations": 0, "retired": 2, "derived": 2, "reverified": 1
    }  # fmt: skip

    await wait_for_claims(client, auth("admin"), 5)  # the index follows the feed
    by_trigger = await claims_by_trigger(client, auth)
    old, new = sorted(by_trigger["a-3"], key=lambda c: c["amount_minor"])
    assert (old["claim_id"], old["status"]) == (job_start["claim_id"], "reversal_requested")
    assert (new["status"], new["amount_minor"], new["contract_version"]) == (
        "verified", 180_000, 2
    )  # fmt: skip
    history = (await client.get(f"/v1/claims/{new['claim_id']}/history",
                                headers=auth("admin"))).json()  # fmt: skip
    actors = {entry["actor"] for entry in history}
    assert f"amendment:{amendment['amendment_id']}" in actors
    # the engagement (enrollment of 9 March, before the amendment's date) keeps version 1
    [engagement] = by_trigger["a-2"]
    assert (engagement["amount_minor"], engagement["contract_version"]) == (50_000, 1)

    # a job start recorded now is priced by the amendment as well
    await record_story(client, auth, PROVIDER, "c")
    later = await wait_for_claims(client, auth("admin"), 7)
    assert next(c for c in later if c["trigger_event_id"] == "c-3")["amount_minor"] == 180_000

    # and the next amendment may be proposed
    again = await client.post(AMENDMENTS, content=amended("1900.00"),
                              headers=admin(auth, "carol") | YAML)  # fmt: skip
    assert again.status_code == 201, again.text


async def test_a_stale_preview_is_refused_with_the_new_ones_id(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    await record_story(client, auth, PROVIDER, "a")
    proposed = (await client.post(AMENDMENTS, content=amended(),
                                  headers=admin(auth, "alice") | YAML)).json()  # fmt: skip
    first = proposed["preview"]
    assert first["differing_claims"] == 1
    await record_story(client, auth, OTHER_PROVIDER, "b")  # another job start the amendment prices
    approve = f"{AMENDMENTS}/{proposed['amendment_id']}/approve"
    stale = await client.post(approve, json={"preview_id": first["preview_id"]},
                              headers=admin(auth, "bob"))  # fmt: skip
    assert stale.status_code == 409, stale.text
    fresh_id = stale.json()["preview_id"]
    assert fresh_id != first["preview_id"]
    read = (await client.get(f"{AMENDMENTS}/{proposed['amendment_id']}",
                             headers=admin(auth, "bob"))).json()  # fmt: skip
    assert (read["preview"]["preview_id"], read["preview"]["differing_claims"]) == (fresh_id, 2)
    approved = await client.post(approve, json={"preview_id": fresh_id},
                                 headers=admin(auth, "bob"))  # fmt: skip
    assert approved.status_code == 200, approved.text


async def test_events_that_change_nothing_the_amendment_does_leave_its_preview_current(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    """A contract that keeps taking referrals must stay approvable: a new participant whose
    claims the amendment does not change leaves the preview's id as it was (it digests what
    the amendment does, not how many participants there are), so the approval goes through."""
    await record_story(client, auth, PROVIDER, "a")
    proposed = (await client.post(AMENDMENTS, content=amended(),
                                  headers=admin(auth, "alice") | YAML)).json()  # fmt: skip
    first = proposed["preview"]
    [referral, *_] = story_json("n", prefix="n")
    answer = await client.post(f"/v1/contracts/{CONTRACT}/events", json=referral,
                               headers=auth("provider", provider_id=PROVIDER))  # fmt: skip
    assert answer.status_code == 201, answer.text
    approve = f"{AMENDMENTS}/{proposed['amendment_id']}/approve"
    approved = await client.post(approve, json={"preview_id": first["preview_id"]},
                                 headers=admin(auth, "bob"))  # fmt: skip
    assert approved.status_code == 200, approved.text
    read = (await client.get(f"{AMENDMENTS}/{proposed['amendment_id']}",
                             headers=admin(auth, "bob"))).json()  # fmt: skip
    assert read["preview"]["participants"] == first["participants"] + 1  # computed again


def newcomer_json(ref: str) -> list[dict[str, Any]]:
    """A participant who started work before the amendment's date (2026-03-15): the job start
    is priced as before, and the later claims at the prices they had, so the amendment leaves
    every claim of theirs as it is."""
    days = ["2026-01-05", "2026-01-12", "2026-02-02", "2026-05-11"]
    events = story_json(ref, ref)
    return [{**event, "occurred_on": day} for event, day in zip(events, days, strict=True)]


@contextmanager
def whole_replays_counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The contract ids of every preview computed from the whole feed, while inside."""
    counted: list[str] = []
    whole = amendments_module.what_if

    def counting(read: Any, draft: RuleBook, contract_id: str, as_amendment: bool) -> Any:
        counted.append(contract_id)
        return whole(read, draft, contract_id, as_amendment)

    with monkeypatch.context() as patched:
        patched.setattr(amendments_module, "what_if", counting)
        yield counted


async def test_the_approval_adds_newcomers_to_the_preview_without_replaying_the_feed(
    client: httpx.AsyncClient, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Participants registered since the preview, whose claims the amendment leaves as they
    are, are added to it from what arrived since: the figures a whole replay gives, read in
    a fraction of the time."""
    await record_story(client, auth, PROVIDER, "a")
    proposed = (await client.post(AMENDMENTS, content=amended(),
                                  headers=admin(auth, "alice") | YAML)).json()  # fmt: skip
    for event in [*newcomer_json("n"), *newcomer_json("m")]:
        other = auth("provider", provider_id=OTHER_PROVIDER)
        answer = await client.post(f"/v1/contracts/{CONTRACT}/events", json=event, headers=other)
        assert answer.status_code == 201, answer.text
    application = application_of(client)
    draft = parse_rulebook(as_json(amended()))
    whole = preview_of(what_if(application.read_lean, draft, CONTRACT, as_amendment=True))
    assert whole["participants"] == proposed["preview"]["participants"] + 2
    location = f"{AMENDMENTS}/{proposed['amendment_id']}"
    with whole_replays_counted(monkeypatch) as replays:
        approved = await client.post(f"{location}/approve",
                                     json={"preview_id": proposed["preview"]["preview_id"]},
                                     headers=admin(auth, "bob"))  # fmt: skip
    assert approved.status_code == 200, approved.text
    assert replays == []
    shown = (await client.get(location, headers=admin(auth, "bob"))).json()["preview"]
    assert {name: shown[name] for name in whole} == whole


async def test_an_event_of_a_participant_the_preview_counted_replays_the_whole_feed(
    client: httpx.AsyncClient, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    [*first, last] = story_json("a", "a")
    for event in first:
        answer = await client.post(f"/v1/contracts/{CONTRACT}/events", json=event,
                                   headers=auth("provider", provider_id=PROVIDER))  # fmt: skip
        assert answer.status_code == 201, answer.text
    proposed = (await client.post(AMENDMENTS, content=amended(),
                                  headers=admin(auth, "alice") | YAML)).json()  # fmt: skip
    answer = await client.post(f"/v1/contracts/{CONTRACT}/events", json=last,
                               headers=auth("provider", provider_id=PROVIDER))  # fmt: skip
    assert answer.status_code == 201, answer.text
    with whole_replays_counted(monkeypatch) as replays:
        approved = await client.post(
            f"{AMENDMENTS}/{proposed['amendment_id']}/approve",
            json={"preview_id": proposed["preview"]["preview_id"]}, headers=admin(auth, "bob"),
        )  # fmt: skip
    # the sustainment it newly earns is priced the same under the amendment: still approvable,
    # but only a whole replay could tell
    assert approved.status_code == 200, approved.text
    assert replays == [CONTRACT]


async def test_withdrawn_and_bad_proposals_change_nothing(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    before = (await client.get(f"/v1/contracts/{CONTRACT}", headers=auth("admin"))).json()
    too_early = await client.post(AMENDMENTS, content=amended(effective_from="2024-12-31"),
                                  headers=admin(auth, "alice") | YAML)  # fmt: skip
    assert too_early.status_code == 409 and "contract's start" in too_early.json()["detail"]
    elsewhere = await client.post(
        "/v1/contracts/other-contract/amendments", content=amended(),
        headers=admin(auth, "alice") | YAML,
    )  # fmt: skip
    assert elsewhere.status_code == 422 and elsewhere.json()["errors"][0]["field"] == "contract_id"
    proposed = (await client.post(AMENDMENTS, content=amended(),
                                  headers=admin(auth, "alice") | YAML)).json()  # fmt: skip
    base = f"{AMENDMENTS}/{proposed['amendment_id']}"
    withdrawn = await client.post(f"{base}/withdraw", json={"note": "wrong price"},
                                  headers=admin(auth, "alice"))  # fmt: skip
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    late = await client.post(f"{base}/approve",
                             json={"preview_id": proposed["preview"]["preview_id"]},
                             headers=admin(auth, "bob"))  # fmt: skip
    assert late.status_code == 409
    after = (await client.get(f"/v1/contracts/{CONTRACT}", headers=auth("admin"))).json()
    assert after["version"] == before["version"] == 1
    unknown = await client.get(f"{AMENDMENTS}/00000000-0000-4000-8000-000000000000",
                               headers=auth("auditor"))  # fmt: skip
    assert unknown.status_code == 404
    assert (await client.get(f"{AMENDMENTS}/nope", headers=auth("auditor"))).status_code == 404
    scoped = auth("admin", subject="dan", contract_ids=["other-contract"])
    assert (await client.post(AMENDMENTS, content=amended(),
                              headers=scoped | YAML)).status_code == 403  # fmt: skip


async def approved_and_applied(client: httpx.AsyncClient, auth: Auth, text: str) -> dict[str, Any]:
    """An amendment proposed by alice, approved by bob on its preview, and applied."""
    proposed: dict[str, Any] = (
        await client.post(AMENDMENTS, content=text, headers=admin(auth, "alice") | YAML)
    ).json()
    location = f"{AMENDMENTS}/{proposed['amendment_id']}"
    await client.post(f"{location}/approve",
                      json={"preview_id": proposed["preview"]["preview_id"]},
                      headers=admin(auth, "bob"))  # fmt: skip
    await applied(client, auth, location)
    return proposed


def application_of(client: httpx.AsyncClient) -> ClaimsApplication:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    application: ClaimsApplication = transport.app.state.application  # type: ignore[attr-defined]
    return application


@contextmanager
def followed_by_a_ledger(client: httpx.AsyncClient, url: str) -> Iterator[LedgerApplication]:
    """A ledger that has followed the claims service's feed to its end."""
    application = application_of(client)
    ledger = LedgerApplication(url, clock=application.clock)
    try:
        Follower("l", LocalFeedSource(application.read_feed), ClaimsFeedSink(ledger)).catch_up()
        yield ledger
    finally:
        ledger.close()


def postings(ledger: LedgerApplication) -> list[TransactionPosted]:
    return [
        TransactionPosted.of(entry)
        for entry in ledger.read_feed(0, 1000)
        if entry.type == TransactionPosted.TYPE
    ]


def booked_lines(ledger: LedgerApplication) -> list[LineState]:
    """The line of every claim the ledger accrued in the contract (from its own feed)."""
    found = [
        ledger.booked_line(CONTRACT, p.claim_id) for p in postings(ledger) if p.kind == "accrual"
    ]
    return [line for line in found if line is not None]


async def test_the_ledger_books_the_amendment_and_the_replay_agrees(
    client: httpx.AsyncClient, auth: Auth, urls: dict[str, str]
) -> None:
    await record_story(client, auth, PROVIDER, "a")
    claims = await wait_for_claims(client, auth("admin"), 3)
    for claim in claims:
        await client.post(f"/v1/claims/{claim['claim_id']}/verify", headers=auth("verifier"))
    proposed = await approved_and_applied(client, auth, amended())
    with followed_by_a_ledger(client, urls["ledger"]) as ledger:
        posted = postings(ledger)
        lines = booked_lines(ledger)
        live = sorted(line["accrued"] for line in lines if not line["reversed"])
        reversed_ = [line["accrued"] for line in lines if line["reversed"]]
        # engagement 500 (before the amendment's date: untouched); the job start at 1,800,
        # its 1,500 reversed; 13 weeks full time re-accrued at 2,500 under version 2
        assert (live, sorted(reversed_)) == ([50_000, 180_000, 250_000], [150_000, 250_000])
        named = [(each.kind, each.details.get("amendment_id")) for each in posted]
        by_amendment = [kind for kind, named_id in named if named_id == proposed["amendment_id"]]
        assert sorted(by_amendment) == ["accrual", "accrual", "reversal", "reversal"]
        assert [kind for kind, named_id in named if named_id is None] == ["accrual"] * 3
    assert recompute_claims(replayed(application_of(client))) == []


def as_json(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(yaml.safe_load(text), default=str))
    return document


async def test_what_if_for_a_portfolio_books_through_the_drafts_caps_as_the_ledger_would(
    client: httpx.AsyncClient, auth: Auth, urls: dict[str, str]
) -> None:
    await load_examples(client, auth("admin"), "homelessness-prevention")
    await record_story(client, auth, PROVIDER, "a")
    await record_story(client, auth, OTHER_PROVIDER, "b")
    for claim in await wait_for_claims(client, auth("admin"), 6):
        await client.post(f"/v1/claims/{claim['claim_id']}/verify", headers=auth("verifier"))
    # job starts at 1,800.00 from the start, and the contract capped at 5,000.00 in all
    text = amended(effective_from="2025-01-01").replace('amount: "750000.00"', 'amount: "5000.00"')
    other = as_json((EXAMPLES / "homelessness-prevention.yaml").read_text())
    answer = await client.post("/v1/what-if", json={"drafts": [as_json(text), other]},
                               headers=auth("auditor"))  # fmt: skip
    assert answer.status_code == 200, answer.text
    ips, unchanged = answer.json()["contracts"]
    # 500 + 1,500 + 2,500 for each of two participants booked now, nothing capped; under the
    # draft 500 + 1,800 + 2,500 each, of which the cap lets 5,000.00 through
    assert ips["booked"] == {
        "actual_accrued_minor": 900_000, "actual_capped_minor": 0,
        "what_if_accrued_minor": 500_000, "what_if_capped_minor": 460_000,
    }  # fmt: skip
    assert (unchanged["contract_id"], unchanged["differing_claims"]) == (
        "homelessness-prevention", 0
    )  # fmt: skip
    [total] = answer.json()["totals"]
    assert (total["currency"], total["what_if_accrued_minor"], total["differing_claims"]) == (
        "GBP", 500_000, 2
    )  # fmt: skip

    # the same draft approved as an amendment from the start: the ledger books what it said
    proposed = await approved_and_applied(client, auth, text)
    assert proposed["preview"]["booked"] == ips["booked"]
    with followed_by_a_ledger(client, urls["ledger"]) as ledger:
        live = [line for line in booked_lines(ledger) if not line["reversed"]]
        assert sum(line["accrued"] for line in live) == 500_000
        assert sum(line["capped"] for line in live) == 460_000


async def test_a_portfolio_what_if_refuses_what_the_token_or_the_drafts_do_not_allow(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    await load_examples(client, auth("admin"), "homelessness-prevention")
    ips = as_json(IPS_RULEBOOK.read_text())
    other = as_json((EXAMPLES / "homelessness-prevention.yaml").read_text())
    payer = auth("payer", subject="treasury", contract_ids=[CONTRACT])
    mine = await client.post("/v1/what-if", json={"drafts": [ips]}, headers=payer)
    assert mine.status_code == 200, mine.text
    theirs = await client.post("/v1/what-if", json={"drafts": [ips, other]}, headers=payer)
    assert theirs.status_code == 403
    twice = await client.post("/v1/what-if", json={"drafts": [ips, ips]}, headers=auth("admin"))
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == (
        "drafts[1].contract_id"
    )
    broken = await client.post("/v1/what-if", json={"drafts": [{**ips, "currency": "pounds"}]},
                               headers=auth("admin"))  # fmt: skip
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["field"].startswith("drafts[0].currency")
    none = await client.post("/v1/what-if", json={"drafts": []}, headers=auth("admin"))
    assert none.status_code == 422
    verifier = await client.post("/v1/what-if", json={"drafts": [ips]}, headers=auth("verifier"))
    assert verifier.status_code == 403
