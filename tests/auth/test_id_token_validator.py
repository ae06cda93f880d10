"""Entra v2 ID tokens of the console's sign-in against a local issuer: every rule of
ID_TOKEN_RULES refuses its bad claim by name; the add-in's access tokens and the console's ID
tokens of one tenant share one key cache."""

from __future__ import annotations

import time

import pytest

from shared.auth.entra import ID_TOKEN_RULES, EntraConfig, EntraIdTokenValidator, EntraTokenValidator, app_roles
from shared.auth.jwks import JwksCache
from shared.console.session import ADMIN_ROLE
from shared.errors import NotAuthenticated
from tests.addin.issuer import CLIENT_ID, SCOPE, TokenIssuer

USER = "ann@contoso.com"
NONCE = "the-nonce-of-this-attempt"


def _validator(issuer: TokenIssuer) -> EntraIdTokenValidator:
    return EntraIdTokenValidator(issuer.tenant, issuer.authority,
                                 JwksCache(f"{issuer.authority}/{issuer.tenant}/discovery/v2.0/keys"))


def _id_token(issuer: TokenIssuer, **overrides: object) -> str:
    return issuer.token(USER, **{"scp": None, "nonce": NONCE, "roles": [ADMIN_ROLE], **overrides})


async def test_a_valid_id_token_gives_its_claims_and_roles(issuer: TokenIssuer) -> None:
    claims = await _validator(issuer).claims(_id_token(issuer), audience=CLIENT_ID, nonce=NONCE)
    assert claims["preferred_username"] == USER and app_roles(claims) == {ADMIN_ROLE}
    no_roles = await _validator(issuer).claims(_id_token(issuer, roles=None), audience=CLIENT_ID, nonce=NONCE)
    assert app_roles(no_roles) == frozenset()   # valid; the console shows its "no role" page


REFUSED = {
    "wrong nonce": ({"nonce": "another-attempt"}, "(nonce)"),
    "no nonce (an access token)": ({"nonce": None, "scp": SCOPE}, "(nonce)"),
    "wrong audience": ({"aud": "00000003-0000-0000-c000-000000000000"}, "(aud)"),
    "wrong issuer": ({"iss": "https://login.microsoftonline.com/other/v2.0"}, "(iss)"),
    "wrong tenant": ({"tid": "99999999-2222-3333-4444-555555555555"}, "(tid)"),
    "v1 token": ({"ver": "1.0"}, "(ver)"),
    "no object id": ({"oid": None}, "(oid)"),
    "roles not a list": ({"roles": "Exsync.Admin"}, "(roles)"),
    "expired": ({"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200}, "(exp)"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_bad_claims_are_refused_naming_the_claim(issuer: TokenIssuer, case: str) -> None:
    overrides, claim = REFUSED[case]
    with pytest.raises(NotAuthenticated, match=claim.replace("(", r"\(").replace(")", r"\)")):
        await _validator(issuer).claims(_id_token(issuer, **overrides), audience=CLIENT_ID, nonce=NONCE)


def test_every_id_token_rule_has_a_refusal_case() -> None:
    assert {rule[0] for rule in ID_TOKEN_RULES} == {claim.strip("()") for _, claim in REFUSED.values()} - {"exp"}


async def test_an_unknown_key_and_a_forged_signature_are_refused(issuer: TokenIssuer) -> None:
    validator = _validator(issuer)
    stranger = issuer.stranger_token(USER, scp=None, nonce=NONCE)
    with pytest.raises(NotAuthenticated, match=r"\(kid\)"):
        await validator.claims(stranger, audience=CLIENT_ID, nonce=NONCE)
    with pytest.raises(NotAuthenticated, match=r"\(signature\)"):
        await validator.claims(issuer.forged_token(USER), audience=CLIENT_ID, nonce=NONCE)


async def test_access_and_id_tokens_of_one_tenant_share_one_key_fetch(issuer: TokenIssuer) -> None:
    access = EntraTokenValidator(EntraConfig(tenant_id=issuer.tenant, audiences=(CLIENT_ID,), scope=SCOPE,
                                             authority=issuer.authority))
    signin = EntraIdTokenValidator(issuer.tenant, issuer.authority)
    assert access.keys is signin.keys
    await access.validate(issuer.token(USER))
    await signin.claims(_id_token(issuer), audience=CLIENT_ID, nonce=NONCE)
    assert issuer.key_requests == 1
