"""Validation of Entra ID v2 tokens: access tokens sent as ``Authorization: Bearer …`` (the add-in
API, :class:`EntraTokenValidator`) and ID tokens posted back by an OpenID Connect sign-in (the
console, :class:`EntraIdTokenValidator`).

The signature is checked against the tenant's JWKS (:class:`~shared.auth.jwks.JwksCache`, one per
key URL for the process) with PyJWT, which also checks ``exp`` and ``nbf`` (with a small leeway for
clock skew): :func:`verified_claims`, the same for both kinds. The claims are then checked by a flat
table with one rule per claim (:data:`CLAIM_RULES` for access tokens, :data:`ID_TOKEN_RULES` for ID
tokens), so every refusal names the claim and the fix. Any failure is
:class:`~shared.errors.NotAuthenticated` (401).
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import jwt

from shared.auth.jwks import JwksCache, cache_for
from shared.errors import NotAuthenticated

logger = logging.getLogger(__name__)

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
ALGORITHMS = ("RS256",)  # what Entra ID signs access tokens with


@dataclasses.dataclass(frozen=True)
class EntraConfig:
    """Who may call: tokens of ``tenant_id`` for one of ``audiences`` carrying ``scope``."""

    tenant_id: str
    audiences: tuple[str, ...]
    scope: str = "access_as_user"
    authority: str = DEFAULT_AUTHORITY
    leeway_seconds: int = 60

    @property
    def issuer(self) -> str:
        return issuer_of(self.authority, self.tenant_id)

    @property
    def jwks_url(self) -> str:
        return jwks_url_of(self.authority, self.tenant_id)


def issuer_of(authority: str, tenant_id: str) -> str:
    """The ``iss`` of the tenant's v2 tokens."""
    return f"{authority.rstrip('/')}/{tenant_id}/v2.0"


def jwks_url_of(authority: str, tenant_id: str) -> str:
    """Where the tenant publishes its signing keys."""
    return f"{authority.rstrip('/')}/{tenant_id}/discovery/v2.0/keys"


@dataclasses.dataclass(frozen=True)
class Caller:
    """The user a valid token speaks for."""

    object_id: str
    tenant_id: str
    username: str          # preferred_username (the UPN), lower case
    name: str
    scopes: tuple[str, ...]


E = TypeVar("E")
# (claim, holds for the claims and what is expected, why it failed and what to do)
Rule = tuple[str, Callable[[Mapping[str, Any], E], bool], Callable[[Mapping[str, Any], E], str]]


def _scopes(claims: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(claims.get("scp") or "").split())


class _Tenant(Protocol):
    @property
    def issuer(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...


# Both token kinds: issued by our tenant's v2 endpoint (not another tenant's, not a test issuer),
# and the tenant claim must match too (multi-tenant apps: iss alone could be templated).
TENANT_RULES: tuple[Rule[_Tenant], ...] = (
    ("iss", lambda c, t: c.get("iss") == t.issuer, lambda c, t: f"issuer {c.get('iss')!r} is not {t.issuer!r}"),
    ("tid", lambda c, t: str(c.get("tid") or "").lower() == t.tenant_id.lower(),
     lambda c, _: f"tenant {c.get('tid')!r} is not this installation's tenant"),
)

# One rule per claim: (claim, holds, why it failed and what to do).
CLAIM_RULES: tuple[Rule[EntraConfig], ...] = (
    # v1 tokens have another issuer format and audience: the API must be set to v2 tokens.
    ("ver", lambda c, _: c.get("ver") == "2.0",
     lambda c, _: f"token version {c.get('ver')!r} is not 2.0; set accessTokenAcceptedVersion to 2 in the "
                  "API's app registration manifest"),
    *TENANT_RULES,
    # Meant for exsync's API (client id or app id URI), not for Graph or another API.
    ("aud", lambda c, cfg: c.get("aud") in cfg.audiences,
     lambda c, cfg: f"audience {c.get('aud')!r} is not this API; request a token for "
                    f"{cfg.audiences[0]}/{cfg.scope}" if cfg.audiences else "no audience configured"),
    # Delegated permission to call exsync's API.
    ("scp", lambda c, cfg: cfg.scope in _scopes(c),
     lambda c, cfg: f"scope {cfg.scope!r} missing from the token; consent to it for the add-in"),
    # Someone to act for.
    ("preferred_username", lambda c, _: bool(c.get("preferred_username") or c.get("upn")),
     lambda c, _: "the token names no user (preferred_username); app-only tokens are not accepted"),
    ("oid", lambda c, _: bool(c.get("oid")), lambda c, _: "the token has no object id (oid)"),
)


def first_failure(rules: tuple[Rule[E], ...], claims: Mapping[str, Any], expected: E) -> None:
    """NotAuthenticated naming the first rule ``claims`` break, or nothing."""
    for claim, holds, why in rules:
        if not holds(claims, expected):
            raise NotAuthenticated(f"token rejected ({claim}): {why(claims, expected)}")


def check_claims(claims: Mapping[str, Any], config: EntraConfig) -> Caller:
    """The caller of verified ``claims``, or NotAuthenticated naming the first failed rule."""
    first_failure(CLAIM_RULES, claims, config)
    username = str(claims.get("preferred_username") or claims.get("upn")).lower()
    return Caller(object_id=str(claims["oid"]), tenant_id=str(claims["tid"]), username=username,
                  name=str(claims.get("name") or username), scopes=_scopes(claims))


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header, or NotAuthenticated."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("sign-in required: send the user's token as 'Authorization: Bearer <token>'")
    return token.strip()


async def verified_claims(token: str, keys: JwksCache, leeway_seconds: int) -> dict[str, Any]:
    """The claims of a token signed (RS256) by one of the tenant's keys and within its lifetime, or
    NotAuthenticated naming what failed. The claims themselves are the caller's rule table's job."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated(f"token rejected: not a JWT ({exc})") from exc
    if header.get("alg") not in ALGORITHMS:
        raise NotAuthenticated(f"token rejected (alg): {header.get('alg')!r} is not RS256")
    kid = str(header.get("kid") or "")
    key = await keys.key(kid) if kid else None
    if key is None:
        raise NotAuthenticated(f"token rejected (kid): signed by a key {kid!r} the tenant does not publish")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key=key.key, algorithms=list(ALGORITHMS), leeway=leeway_seconds,
            options={"require": ["exp", "nbf", "iss", "aud", "tid"], "verify_aud": False, "verify_iss": False})
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("token rejected (exp): expired; sign in again") from exc
    except jwt.ImmatureSignatureError as exc:
        raise NotAuthenticated("token rejected (nbf): not valid yet; check the clock") from exc
    except jwt.InvalidSignatureError as exc:
        raise NotAuthenticated("token rejected (signature): does not verify with the tenant's key") from exc
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated(f"token rejected: {exc}") from exc
    return claims


class EntraTokenValidator:
    """Validates access tokens of one configuration; keeps the key cache between requests."""

    def __init__(self, config: EntraConfig, keys: JwksCache | None = None) -> None:
        self.config = config
        self.keys = keys or cache_for(config.jwks_url)

    async def validate(self, token: str) -> Caller:
        claims = await verified_claims(token, self.keys, self.config.leeway_seconds)
        caller = check_claims(claims, self.config)
        logger.debug("token accepted for %s", caller.username)
        return caller

    async def caller(self, authorization: str | None) -> Caller:
        """The caller of an ``Authorization`` header value."""
        return await self.validate(bearer_token(authorization))


# ---------------------------------------------------------------- ID tokens (OpenID Connect sign-in)


@dataclasses.dataclass(frozen=True)
class IdTokenExpected:
    """What one sign-in attempt expects of its ID token: the tenant's issuer, the app registration
    that asked (``aud``) and the nonce the attempt sent to the authorize endpoint."""

    issuer: str
    tenant_id: str
    audience: str
    nonce: str


def _roles_ok(claims: Mapping[str, Any]) -> bool:
    roles = claims.get("roles", [])
    return isinstance(roles, list) and all(isinstance(r, str) for r in roles)


# One rule per claim, like CLAIM_RULES; the app roles are read, not required: a user without one
# gets the console's "no role" page, which names the fix.
ID_TOKEN_RULES: tuple[Rule[IdTokenExpected], ...] = (
    ("ver", lambda c, _: c.get("ver") == "2.0",
     lambda c, _: f"token version {c.get('ver')!r} is not 2.0; sign in through the v2.0 authorize endpoint"),
    *TENANT_RULES,
    # Issued to the console's own app registration, not to another app of the tenant.
    ("aud", lambda c, e: c.get("aud") == e.audience,
     lambda c, e: f"audience {c.get('aud')!r} is not the console's app registration {e.audience!r}"),
    # Bound to this browser's sign-in attempt: a token captured from another sign-in is refused.
    ("nonce", lambda c, e: bool(e.nonce) and hmac.compare_digest(str(c.get("nonce") or ""), e.nonce),
     lambda c, _: "the token answers another sign-in attempt (nonce); open the console and sign in again"),
    ("oid", lambda c, _: bool(c.get("oid")), lambda c, _: "the token has no object id (oid)"),
    ("roles", lambda c, _: _roles_ok(c), lambda c, _: "the roles claim is not a list of app role names"),
)


def app_roles(claims: Mapping[str, Any]) -> frozenset[str]:
    """The app roles of verified claims (assigned in Enterprise applications → Users and groups)."""
    return frozenset(claims.get("roles") or ())


class EntraIdTokenValidator:
    """Validates the ID tokens of one tenant's OpenID Connect sign-ins (the console's
    :class:`~shared.console.signin.TokenValidator`); shares the tenant's key cache."""

    def __init__(self, tenant_id: str, authority: str = DEFAULT_AUTHORITY, keys: JwksCache | None = None,
                 leeway_seconds: int = 60) -> None:
        self.tenant_id = tenant_id
        self.issuer = issuer_of(authority, tenant_id)
        self.keys = keys or cache_for(jwks_url_of(authority, tenant_id))
        self.leeway_seconds = leeway_seconds

    async def claims(self, token: str, *, audience: str, nonce: str) -> Mapping[str, Any]:
        """The verified claims of ``token`` for app ``audience`` and sign-in ``nonce``."""
        claims = await verified_claims(token, self.keys, self.leeway_seconds)
        first_failure(ID_TOKEN_RULES, claims, IdTokenExpected(self.issuer, self.tenant_id, audience, nonce))
        logger.debug("ID token accepted for object id %s", claims.get("oid"))
        return claims
