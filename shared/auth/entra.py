"""Validation of Entra ID v2 access tokens sent as ``Authorization: Bearer …``.

The signature is checked against the tenant's JWKS (:class:`~shared.auth.jwks.JwksCache`) with
PyJWT, which also checks ``exp`` and ``nbf`` (with a small leeway for clock skew). The claims
are then checked by :data:`CLAIM_RULES`, a flat table with one rule per claim, so every refusal
names the claim and the fix. Any failure is :class:`~shared.errors.NotAuthenticated` (401).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from shared.auth.jwks import JwksCache
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
        return f"{self.authority.rstrip('/')}/{self.tenant_id}/v2.0"

    @property
    def jwks_url(self) -> str:
        return f"{self.authority.rstrip('/')}/{self.tenant_id}/discovery/v2.0/keys"


@dataclasses.dataclass(frozen=True)
class Caller:
    """The user a valid token speaks for."""

    object_id: str
    tenant_id: str
    username: str          # preferred_username (the UPN), lower case
    name: str
    scopes: tuple[str, ...]


Rule = tuple[str, Callable[[Mapping[str, Any], EntraConfig], bool], Callable[[Mapping[str, Any], EntraConfig], str]]


def _scopes(claims: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(claims.get("scp") or "").split())


# One rule per claim: (claim, holds, why it failed and what to do).
CLAIM_RULES: tuple[Rule, ...] = (
    # v1 tokens have another issuer format and audience: the API must be set to v2 tokens.
    ("ver", lambda c, _: c.get("ver") == "2.0",
     lambda c, _: f"token version {c.get('ver')!r} is not 2.0; set accessTokenAcceptedVersion to 2 in the "
                  "API's app registration manifest"),
    # Issued by our tenant's v2 endpoint (not another tenant's, not a test issuer).
    ("iss", lambda c, cfg: c.get("iss") == cfg.issuer,
     lambda c, cfg: f"issuer {c.get('iss')!r} is not {cfg.issuer!r}"),
    # The tenant claim must match too (multi-tenant apps: iss alone could be templated).
    ("tid", lambda c, cfg: str(c.get("tid") or "").lower() == cfg.tenant_id.lower(),
     lambda c, cfg: f"tenant {c.get('tid')!r} is not this installation's tenant"),
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


def check_claims(claims: Mapping[str, Any], config: EntraConfig) -> Caller:
    """The caller of verified ``claims``, or NotAuthenticated naming the first failed rule."""
    for claim, holds, why in CLAIM_RULES:
        if not holds(claims, config):
            raise NotAuthenticated(f"token rejected ({claim}): {why(claims, config)}")
    username = str(claims.get("preferred_username") or claims.get("upn")).lower()
    return Caller(object_id=str(claims["oid"]), tenant_id=str(claims["tid"]), username=username,
                  name=str(claims.get("name") or username), scopes=_scopes(claims))


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header, or NotAuthenticated."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("sign-in required: send the user's token as 'Authorization: Bearer <token>'")
    return token.strip()


class EntraTokenValidator:
    """Validates access tokens of one configuration; keeps the key cache between requests."""

    def __init__(self, config: EntraConfig, keys: JwksCache | None = None) -> None:
        self.config = config
        self.keys = keys or JwksCache(config.jwks_url)

    async def validate(self, token: str) -> Caller:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise NotAuthenticated(f"token rejected: not a JWT ({exc})") from exc
        if header.get("alg") not in ALGORITHMS:
            raise NotAuthenticated(f"token rejected (alg): {header.get('alg')!r} is not RS256")
        kid = str(header.get("kid") or "")
        key = await self.keys.key(kid) if kid else None
        if key is None:
            raise NotAuthenticated(f"token rejected (kid): signed by a key {kid!r} the tenant does not publish")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key=key.key, algorithms=list(ALGORITHMS), leeway=self.config.leeway_seconds,
                options={"require": ["exp", "nbf", "iss", "aud", "tid"], "verify_aud": False,
                         "verify_iss": False})
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthenticated("token rejected (exp): expired; sign in again") from exc
        except jwt.ImmatureSignatureError as exc:
            raise NotAuthenticated("token rejected (nbf): not valid yet; check the clock") from exc
        except jwt.InvalidSignatureError as exc:
            raise NotAuthenticated("token rejected (signature): does not verify with the tenant's key") from exc
        except jwt.InvalidTokenError as exc:
            raise NotAuthenticated(f"token rejected: {exc}") from exc
        caller = check_claims(claims, self.config)
        logger.debug("token accepted for %s", caller.username)
        return caller

    async def caller(self, authorization: str | None) -> Caller:
        """The caller of an ``Authorization`` header value."""
        return await self.validate(bearer_token(authorization))
