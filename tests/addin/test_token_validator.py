"""Entra v2 token validation against a local issuer: every refusal is a 401 naming the claim."""

from __future__ import annotations

import time

import pytest

from shared.auth.entra import CLAIM_RULES, EntraConfig, EntraTokenValidator, bearer_token
from shared.auth.jwks import JwksCache, KeysUnavailable
from shared.errors import NotAuthenticated
from tests.addin.issuer import CLIENT_ID, SCOPE, TokenIssuer

USER = "ann@contoso.com"


def _validator(issuer: TokenIssuer, **kw: float) -> EntraTokenValidator:
    config = EntraConfig(tenant_id=issuer.tenant, audiences=(CLIENT_ID, f"api://localhost/{CLIENT_ID}"),
                         scope=SCOPE, authority=issuer.authority)
    return EntraTokenValidator(config, JwksCache(config.jwks_url, **kw))


async def test_a_valid_token_names_the_caller(issuer: TokenIssuer) -> None:
    caller = await _validator(issuer).caller(f"Bearer {issuer.token(USER.upper())}")
    assert (caller.username, caller.tenant_id, caller.scopes) == (USER, issuer.tenant, (SCOPE,))


async def test_the_app_id_uri_is_an_accepted_audience(issuer: TokenIssuer) -> None:
    caller = await _validator(issuer).validate(issuer.token(USER, aud=f"api://localhost/{CLIENT_ID}"))
    assert caller.username == USER


REFUSED = {
    "wrong audience": ({"aud": "00000003-0000-0000-c000-000000000000"}, "(aud)"),
    "wrong issuer": ({"iss": "https://login.microsoftonline.com/other/v2.0"}, "(iss)"),
    "wrong tenant": ({"tid": "99999999-2222-3333-4444-555555555555"}, "(tid)"),
    "expired": ({"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200}, "(exp)"),
    "not yet valid": ({"nbf": int(time.time()) + 3600}, "(nbf)"),
    "missing scope": ({"scp": "User.Read"}, "(scp)"),
    "v1 token": ({"ver": "1.0"}, "(ver)"),
    "app-only token": ({"preferred_username": None, "scp": SCOPE}, "(preferred_username)"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_bad_claims_are_refused_naming_the_claim(issuer: TokenIssuer, case: str) -> None:
    overrides, claim = REFUSED[case]
    with pytest.raises(NotAuthenticated, match=claim.replace("(", r"\(").replace(")", r"\)")):
        await _validator(issuer).validate(issuer.token(USER, **overrides))


def test_every_claim_rule_has_a_refusal_case() -> None:
    named = {claim.strip("()") for _, claim in REFUSED.values()}
    assert {rule[0] for rule in CLAIM_RULES} - named == {"oid"}  # oid: Entra always sends it with a user


async def test_unknown_key_is_refused_and_refetches_once(issuer: TokenIssuer) -> None:
    validator = _validator(issuer)
    await validator.validate(issuer.token(USER))
    assert issuer.key_requests == 1
    for _ in range(3):
        with pytest.raises(NotAuthenticated, match=r"\(kid\)"):
            await validator.validate(issuer.stranger_token(USER))
    assert issuer.key_requests == 1  # within min_refresh: random kids never hammer the key endpoint


async def test_forged_signature_is_refused(issuer: TokenIssuer) -> None:
    with pytest.raises(NotAuthenticated, match=r"\(signature\)"):
        await _validator(issuer).validate(issuer.forged_token(USER))


async def test_key_rotation_is_picked_up_with_one_fetch(issuer: TokenIssuer) -> None:
    validator = _validator(issuer, min_refresh=0.0)
    await validator.validate(issuer.token(USER))
    issuer.rotate()
    await validator.validate(issuer.token(USER))  # new kid: refetch
    await validator.validate(issuer.token(USER, key_index=0))  # old key still published and cached
    assert issuer.key_requests == 2


async def test_keys_are_cached_between_requests(issuer: TokenIssuer) -> None:
    validator = _validator(issuer)
    for _ in range(5):
        await validator.validate(issuer.token(USER))
    assert issuer.key_requests == 1


async def test_unreachable_key_endpoint_is_a_clear_error(issuer: TokenIssuer) -> None:
    validator = _validator(issuer)
    token = issuer.token(USER)
    await issuer.stop()
    with pytest.raises(KeysUnavailable, match="cannot read the signing keys"):
        await validator.validate(token)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "bearer"])
def test_missing_bearer_is_refused(header: str | None) -> None:
    with pytest.raises(NotAuthenticated, match="Authorization: Bearer"):
        bearer_token(header)


async def test_garbage_and_unsigned_tokens_are_refused(issuer: TokenIssuer) -> None:
    import jwt

    validator = _validator(issuer)
    with pytest.raises(NotAuthenticated, match="not a JWT"):
        await validator.validate("not-a-token")
    unsigned = jwt.encode(issuer.claims(USER), None, algorithm="none")
    with pytest.raises(NotAuthenticated, match=r"\(alg\)"):
        await validator.validate(unsigned)
