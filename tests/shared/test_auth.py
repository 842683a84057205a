"""Tokens: what is accepted, and every way a forged or stale one is refused."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest

from shared.auth import Role, TokenSigner
from shared.errors import InvalidInput, Unauthenticated
from shared.settings import CommonSettings, InsecureSettingsError

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


def rsa_keys() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def test_rs256_with_a_public_key_from_settings(tmp_path: Path) -> None:
    private_pem, public_pem = rsa_keys()
    (tmp_path / "public.pem").write_text(public_pem)
    (tmp_path / "private.pem").write_text(private_pem)
    settings = CommonSettings(
        token_algorithm="RS256",
        token_public_key_file=tmp_path / "public.pem",
        token_private_key_file=tmp_path / "private.pem",
    )
    signer = TokenSigner.from_settings(settings)
    assert signer.verify(signer.issue(Role.AUDITOR)).role is Role.AUDITOR
    # an HS256 token made with the public key as its secret (the classic confusion) is refused
    forged = jwt.encode({"role": "admin"}, "k" * 40, algorithm="HS256")
    with pytest.raises(Unauthenticated, match="only RS256"):
        signer.verify(forged)
    # a verifier with only the public key cannot mint tokens
    verify_only = TokenSigner.from_settings(
        settings.model_copy(update={"token_private_key_file": None})
    )
    with pytest.raises(InvalidInput):
        verify_only.issue(Role.ADMIN)


def test_rs256_with_a_jwks_file_picks_the_key_by_id(tmp_path: Path) -> None:
    from jwt.algorithms import RSAAlgorithm

    private_pem, public_pem = rsa_keys()
    jwk = json.loads(RSAAlgorithm.to_jwk(RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(public_pem)))
    (tmp_path / "jwks.json").write_text(
        json.dumps({"keys": [jwk | {"kid": "k-2026", "use": "sig", "alg": "RS256"}]})
    )
    (tmp_path / "private.pem").write_text(private_pem)
    signer = TokenSigner.from_settings(
        CommonSettings(
            token_algorithm="RS256",
            token_jwks_file=tmp_path / "jwks.json",
            token_private_key_file=tmp_path / "private.pem",
        )
    )
    assert signer.verify(signer.issue(Role.PAYER, key_id="k-2026")).role is Role.PAYER
    with pytest.raises(Unauthenticated, match="no key"):
        signer.verify(signer.issue(Role.PAYER, key_id="k-retired"))


def test_rs256_needs_a_key_to_verify_with() -> None:
    with pytest.raises(InsecureSettingsError, match="RS256 needs"):
        CommonSettings(token_algorithm="RS256").check_secrets()


def test_a_revoked_token_is_refused_as_soon_as_the_list_changes(tmp_path: Path) -> None:
    revoked = tmp_path / "revoked.txt"
    signer = TokenSigner.from_settings(CommonSettings(revoked_tokens_file=revoked))
    token = signer.issue(Role.ADMIN)
    assert signer.verify(token).role is Role.ADMIN  # no file yet: nothing revoked
    token_id = signer.verify(token).token_id
    revoked.write_text(f"# revoked after a laptop was lost\n{token_id}\n")
    with pytest.raises(Unauthenticated, match="revoked"):
        signer.verify(token)
    assert signer.verify(signer.issue(Role.ADMIN)).role is Role.ADMIN


def test_a_token_is_verified_once_then_remembered_until_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 20, point 3: a token's signature is checked on its first use only; the cache
    vouches for it until its expiry and no longer, and never for a refused token."""
    import shared.auth

    decoded = []
    real_decode = jwt.decode

    def counting(*args: object, **kwargs: object) -> object:
        decoded.append(1)
        return real_decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting)
    signer = TokenSigner("k" * 32, "iss", "aud")
    token = signer.issue(Role.VERIFIER, subject="v1", ttl_s=600)
    assert [signer.verify(token).actor for _ in range(3)] == ["verifier:v1"] * 3
    assert len(decoded) == 1
    with pytest.raises(Unauthenticated):  # not made for a session: refused, and not remembered
        signer.verify(token, use="session")
    with pytest.raises(Unauthenticated):
        signer.verify(token, use="session")
    assert len(decoded) == 3
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(shared.auth, "_now", lambda: float(expires))
    signer.verify(token)  # the cache no longer vouches: the token is checked again
    assert len(decoded) == 5  # (one of them is the line above reading exp)
