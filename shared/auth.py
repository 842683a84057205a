"""Bearer-token authentication: signed JWTs carrying a role and, where needed, a scope.

Roles: ``admin``, ``provider`` (scoped to one provider id, optionally to contracts), ``verifier``,
``payer`` (scoped to the contracts it pays), ``auditor`` (read-only), ``service`` (feed reads
between services). Tokens are HS256 with the configured signing key; expiry, not-before, issuer
and audience are always checked, and no other algorithm is accepted.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.errors import Forbidden, InvalidInput, Unauthenticated
from shared.settings import CommonSettings

ALGORITHM = "HS256"
MAX_TOKEN_TTL_S = 60 * 60 * 24 * 30


class Role(StrEnum):
    ADMIN = "admin"
    PROVIDER = "provider"
    VERIFIER = "verifier"
    PAYER = "payer"
    AUDITOR = "auditor"
    SERVICE = "service"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    provider_id: str | None = None
    contract_ids: frozenset[str] = field(default_factory=frozenset)
    token_id: str = ""

    def may_act_on_contract(self, contract_id: str) -> bool:
        """A scoped token (payer, or a provider limited to contracts) covers only its contracts."""
        if self.role in (Role.PAYER, Role.PROVIDER) and self.contract_ids:
            return contract_id in self.contract_ids
        return self.role is not Role.PAYER

    @property
    def actor(self) -> str:
        """How this caller is named in history: role and subject, never the token itself."""
        return f"{self.role.value}:{self.subject}"


class TokenSigner:
    """Issues and checks tokens with one key, issuer and audience."""

    def __init__(self, key: str, issuer: str, audience: str) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> TokenSigner:
        return cls(
            settings.signing_key.get_secret_value(),
            settings.token_issuer,
            settings.token_audience,
        )

    def issue(
        self,
        role: Role,
        *,
        subject: str | None = None,
        provider_id: str | None = None,
        contract_ids: Iterable[str] = (),
        ttl_s: int = 3600,
        now: float | None = None,
    ) -> str:
        check_token_request(role, provider_id, ttl_s)
        issued_at = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject
            or (provider_id if role is Role.PROVIDER and provider_id else role.value),
            "role": role.value,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if provider_id:
            claims["provider_id"] = provider_id
        contracts = sorted(set(contract_ids))
        if contracts:
            claims["contract_ids"] = contracts
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub", "role", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        return _principal_from_claims(claims)


def check_token_request(role: Role, provider_id: str | None, ttl_s: int) -> None:
    if not 1 <= ttl_s <= MAX_TOKEN_TTL_S:
        raise InvalidInput(f"ttl_s must be between 1 and {MAX_TOKEN_TTL_S}")
    if role is Role.PROVIDER and not provider_id:
        raise InvalidInput("a provider token needs a provider id")
    if role is not Role.PROVIDER and provider_id:
        raise InvalidInput("only provider tokens carry a provider id")


def _principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(claims["role"])
    except ValueError:
        raise Unauthenticated("invalid token: unknown role") from None
    provider_id = claims.get("provider_id")
    contract_ids = claims.get("contract_ids", [])
    if not isinstance(contract_ids, list) or not all(isinstance(c, str) for c in contract_ids):
        raise Unauthenticated("invalid token: contract_ids must be a list of strings")
    if role is Role.PROVIDER and not isinstance(provider_id, str):
        raise Unauthenticated("invalid token: a provider token needs provider_id")
    return Principal(
        subject=str(claims["sub"]),
        role=role,
        provider_id=provider_id if isinstance(provider_id, str) else None,
        contract_ids=frozenset(contract_ids),
        token_id=str(claims["jti"]),
    )


_bearer = HTTPBearer(auto_error=False)


def _current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a bearer token is required")
    signer: TokenSigner = request.app.state.signer
    return signer.verify(credentials.credentials)


def require(*roles: Role) -> Callable[..., Principal]:
    """A FastAPI dependency that authenticates the caller and checks its role."""
    allowed = frozenset(roles)

    def dependency(
        principal: Annotated[Principal, Depends(_current_principal)],
    ) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"role {principal.role.value} may not do this (allowed: {names})")
        return principal

    return dependency


def check_contract_scope(principal: Principal, contract_id: str) -> None:
    if not principal.may_act_on_contract(contract_id):
        raise Forbidden(f"this token does not cover contract {contract_id}")


class ServiceTokens:
    """Short-lived ``service`` tokens for feed reads, renewed before they expire."""

    def __init__(self, signer: TokenSigner, subject: str, ttl_s: int = 300) -> None:
        self._signer = signer
        self._subject = subject
        self._ttl_s = ttl_s
        self._token = ""
        self._renew_at = 0.0

    def __call__(self) -> str:
        now = time.time()
        if now >= self._renew_at:
            self._token = self._signer.issue(Role.SERVICE, subject=self._subject, ttl_s=self._ttl_s)
            self._renew_at = now + self._ttl_s / 2
        return self._token
