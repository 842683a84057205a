"""Bearer-token authentication: signed JWTs carrying a role and, where needed, a scope.

Roles: ``admin``, ``provider`` (scoped to one provider id, optionally to contracts), ``verifier``,
``payer`` (scoped to the contracts it pays), ``evaluator`` (posts evaluation results, scoped to
the contracts it evaluates), ``auditor`` (read-only), ``service`` (feed reads between services).
An ``admin``, ``verifier`` or ``auditor`` token may also be limited to a list of contracts; it is
then refused (403) on every other contract, and on what spans contracts (see ``scoped``).
Tokens are HS256 with the configured signing key; expiry, not-before, issuer and audience are
always checked, and no other algorithm is accepted.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import jwt
from cachetools import TLRUCache
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.errors import Forbidden, InvalidInput, Unauthenticated
from shared.settings import CommonSettings

ALGORITHM = "HS256"
MAX_TOKEN_TTL_S = 60 * 60 * 24 * 30
VERIFIED_CACHE_SIZE = 10_000  # tokens remembered as verified, least recently used dropped first
LINK_USE = "link"  # a short-lived link that opens a browser session, and nothing else
SESSION_USE = "session"  # a browser session's cookie: good for the pages that accept it only


def _now() -> float:
    """The clock the verified-token cache expires entries by (a test moves it)."""
    return time.time()


class Role(StrEnum):
    ADMIN = "admin"
    PROVIDER = "provider"
    VERIFIER = "verifier"
    PAYER = "payer"
    AUDITOR = "auditor"
    SERVICE = "service"
    EVALUATOR = "evaluator"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    provider_id: str | None = None
    contract_ids: frozenset[str] = field(default_factory=frozenset)
    token_id: str = ""

    def may_act_on_contract(self, contract_id: str) -> bool:
        """A token limited to contracts (any role but ``service``; payers and evaluators always
        name theirs) covers only those."""
        if self.scoped:
            return contract_id in self.contract_ids
        return self.role not in (Role.PAYER, Role.EVALUATOR)

    @property
    def scoped(self) -> bool:
        """Limited to a list of contracts: such a token may not read what spans contracts
        (the feed, the access trail, the digest) and sees lists filtered to its contracts."""
        return bool(self.contract_ids) and self.role is not Role.SERVICE

    @property
    def actor(self) -> str:
        """How this caller is named in history: role and subject, never the token itself."""
        return f"{self.role.value}:{self.subject}"


class RevocationList:
    """Token ids that are no longer accepted: one per line in a file, re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._mtime_ns = -1
        self._ids: frozenset[str] = frozenset()

    def __contains__(self, token_id: str) -> bool:
        try:
            mtime_ns = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            return False
        if mtime_ns != self._mtime_ns:
            lines = self._path.read_text(encoding="utf-8").splitlines()
            self._ids = frozenset(
                line.strip() for line in lines if line.strip() and not line.startswith("#")
            )
            self._mtime_ns = mtime_ns
        return token_id in self._ids


class TokenSigner:
    """Issues and checks tokens: HS256 with a shared key, or RS256 with a public key or JWKS.

    Only the configured algorithm is accepted (never ``none``); expiry, not-before, issuer,
    audience and the revocation list are always checked.
    """

    def __init__(
        self,
        key: str,
        issuer: str,
        audience: str,
        *,
        algorithm: str = ALGORITHM,
        verify_key: Any = None,
        jwks: jwt.PyJWKSet | None = None,
        revoked: RevocationList | None = None,
    ) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._algorithm = algorithm
        self._verify_key = verify_key if verify_key is not None else key
        self._jwks = jwks
        self._revoked = revoked
        # tokens verified, by their SHA-256 and use, until each expires (never a refused one)
        self._verified: TLRUCache[tuple[bytes, str | None], tuple[Principal, float]] = TLRUCache(
            VERIFIED_CACHE_SIZE, lambda _key, found, _at: found[1], timer=lambda: _now()
        )
        self._verified_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> TokenSigner:
        revoked = (
            RevocationList(settings.revoked_tokens_file) if settings.revoked_tokens_file else None
        )
        if settings.token_algorithm == "HS256":
            return cls(
                settings.signing_key.get_secret_value(),
                settings.token_issuer,
                settings.token_audience,
                revoked=revoked,
            )
        private = settings.token_private_key_file
        public = settings.token_public_key_file
        jwks_file = settings.token_jwks_file
        return cls(
            private.read_text() if private else "",
            settings.token_issuer,
            settings.token_audience,
            algorithm="RS256",
            verify_key=public.read_text() if public else None,
            jwks=jwt.PyJWKSet.from_json(jwks_file.read_text()) if jwks_file else None,
            revoked=revoked,
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
        key_id: str | None = None,
        use: str | None = None,
    ) -> str:
        """A token; with ``use``, one that is good only where that use is asked for (a
        dashboard link or session), never as a bearer token."""
        check_token_request(role, provider_id, ttl_s)
        if not self._key:
            raise InvalidInput("this service has no private key to sign tokens with")
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
        if use is not None:
            claims["use"] = use
        headers = {"kid": key_id} if key_id else None
        return jwt.encode(claims, self._key, algorithm=self._algorithm, headers=headers)

    def verify(self, token: str, use: str | None = None) -> Principal:
        """The token's principal, if it is valid and made for ``use`` (None: a bearer token).

        A token once verified is remembered by its SHA-256 (never as itself) until it expires,
        so its signature is checked once, not on every request; the revocation list is still
        checked every time."""
        key = (hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest(), use)
        with self._verified_lock:
            found = self._verified.get(key)
        if found is None:
            principal, expires = self._verify(token, use)
            with self._verified_lock:
                self._verified[key] = (principal, expires)
        else:
            principal = found[0]
        if self._revoked is not None and principal.token_id in self._revoked:
            raise Unauthenticated("invalid token: it was revoked")
        return principal

    def _verify(self, token: str, use: str | None) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != self._algorithm:
                raise jwt.InvalidAlgorithmError(f"only {self._algorithm} is accepted")
            claims = jwt.decode(
                token,
                self._key_for(header),
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub", "role", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        if claims.get("use") != use:
            raise Unauthenticated(f"invalid token: not made for {use or 'bearer'} use")
        return _principal_from_claims(claims), float(claims["exp"])

    def _key_for(self, header: dict[str, Any]) -> Any:
        if self._jwks is None:
            return self._verify_key
        kid = header.get("kid")
        for key in self._jwks.keys:
            if key.key_id == kid:
                return key.key
        raise jwt.InvalidKeyError(f"no key {kid!r} in the key set")


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


PRINCIPAL_KEY = "outcomes.principal"  # the request's verified caller, for the access trail


def _principal_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a bearer token is required")
    signer: TokenSigner = request.app.state.signer
    principal = signer.verify(credentials.credentials)
    request.scope[PRINCIPAL_KEY] = principal
    return principal


async def _current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller. Asynchronous, as the role checks below, so that FastAPI runs them on the
    event loop: they only compute (a verified token is remembered), and each synchronous
    dependency would cost a hop to the thread pool and back."""
    return _principal_of(request, credentials)


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency that authenticates the caller and checks its role."""
    allowed = frozenset(roles)

    async def dependency(
        principal: Annotated[Principal, Depends(_current_principal)],
    ) -> Principal:
        return _check_role(principal, allowed)

    return dependency


def require_on_contract(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """Like :func:`require`, for a route with ``{contract_id}`` in its path: the token must
    also cover that contract (checked before the body is read)."""
    allowed = frozenset(roles)

    async def dependency(
        contract_id: str,
        principal: Annotated[Principal, Depends(_current_principal)],
    ) -> Principal:
        _check_role(principal, allowed)
        check_contract_scope(principal, contract_id)
        return principal

    return dependency


def require_unscoped(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """Like :func:`require`, for what spans contracts (the feed, the access trail, the digest):
    a token limited to contracts is refused."""
    allowed = frozenset(roles)

    async def dependency(
        principal: Annotated[Principal, Depends(_current_principal)],
    ) -> Principal:
        _check_role(principal, allowed)
        if principal.scoped:
            raise Forbidden("this token is limited to contracts; it may not read what spans them")
        return principal

    return dependency


def require_bearer_or_session(cookie: str, *roles: Role) -> Callable[..., Principal]:
    """Like :func:`require`, but a browser may instead present a session cookie (a token made
    for ``SESSION_USE``); a bearer token, when sent, is the one that counts."""
    allowed = frozenset(roles)

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        session = request.cookies.get(cookie)
        if credentials is None and session:
            signer: TokenSigner = request.app.state.signer
            return _check_role(signer.verify(session, use=SESSION_USE), allowed)
        return _check_role(_principal_of(request, credentials), allowed)

    return dependency


def _check_role(principal: Principal, allowed: frozenset[Role]) -> Principal:
    if principal.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise Forbidden(f"role {principal.role.value} may not do this (allowed: {names})")
    return principal


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
