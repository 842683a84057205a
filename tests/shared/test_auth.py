"""Tokens: what is accepted, and every way a forged or stale one is refused."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from shared.auth import Role, TokenSigner
from shared.errors import InvalidInput, Unauthenticated

KEY = "k" * 40


def signer(key: str = KEY, audience: str = "outcomes-api") -> TokenSigner:
    return TokenSigner(key, "outcomes", audience)


def test_a_provider_token_round_trips_with_its_scope() -> None:
    token = signer().issue(Role.PROVIDER, provider_id="p1", contract_ids=["c1"])
    principal = signer().verify(token)
    assert (principal.role, principal.provider_id, principal.contract_ids) == (
        Role.PROVIDER,
        "p1",
        frozenset({"c1"}),
    )
    assert principal.may_act_on_contract("c1")
    assert not principal.may_act_on_contract("c2")


def test_a_payer_without_contracts_may_act_on_none() -> None:
    principal = signer().verify(signer().issue(Role.PAYER))
    assert not principal.may_act_on_contract("c1")


def test_expired_token_is_refused() -> None:
    token = signer().issue(Role.ADMIN, ttl_s=60, now=time.time() - 120)
    with pytest.raises(Unauthenticated, match="expired"):
        signer().verify(token)


def test_token_not_yet_valid_is_refused() -> None:
    token = signer().issue(Role.ADMIN, ttl_s=600, now=time.time() + 300)
    with pytest.raises(Unauthenticated, match="not yet valid"):
        signer().verify(token)


def test_wrong_audience_is_refused() -> None:
    token = signer(audience="someone-else").issue(Role.ADMIN)
    with pytest.raises(Unauthenticated, match=r"(?i)audience"):
        signer().verify(token)


def test_wrong_key_is_refused() -> None:
    token = signer(key="x" * 40).issue(Role.ADMIN)
    with pytest.raises(Unauthenticated, match="Signature"):
        signer().verify(token)


def test_alg_none_is_refused() -> None:
    claims = jwt.decode(signer().issue(Role.ADMIN), options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        signer().verify(unsigned)


def test_tampered_claims_are_refused() -> None:
    header, payload, signature = signer().issue(Role.PROVIDER, provider_id="p1").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(Unauthenticated):
        signer().verify(f"{header}.{forged}.{signature}")


def test_provider_tokens_need_a_provider_and_others_must_not_carry_one() -> None:
    with pytest.raises(InvalidInput):
        signer().issue(Role.PROVIDER)
    with pytest.raises(InvalidInput):
        signer().issue(Role.ADMIN, provider_id="p1")
