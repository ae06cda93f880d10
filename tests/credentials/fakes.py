"""A fake Entra ID (token endpoint + App Service managed identity endpoint) and a fake Key Vault.

Both are served by one in-process aiohttp server; :class:`RoutingTransport` (an azure-core
``AioHttpTransport``) sends ``https://<host>/<path>`` to ``http://127.0.0.1:<port>/<host>/<path>``,
so the real azure-identity and azure-keyvault-secrets clients talk to them through their own
pipelines without reaching the internet. The token endpoint decides whether a client secret is
valid by asking a ``check_secret(app_id, secret) -> 'ok'|'expired'|'invalid'`` callable (the
Graph twin, or :func:`simulator_secret_check` which reads the Graph simulator's applications).
"""

from __future__ import annotations

import base64
import dataclasses
import inspect
import itertools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from azure.core.pipeline.transport import AioHttpTransport
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

AUTHORITY_HOST = "login.exsync.test"
AUTHORITY = f"https://{AUTHORITY_HOST}"
VAULT_HOST = "exsync-test.vault.azure.net"
VAULT_URL = f"https://{VAULT_HOST}"
VAULT_TOKEN = "vault-access-token"
MI_HEADER = "mi-secret-header"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_jwt(claims: dict[str, Any]) -> str:
    """An unsigned-looking JWT (the Graph simulator accepts any bearer token)."""
    header = b64url(json.dumps({"typ": "JWT", "alg": "none"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}.sig"


def jwt_claims(token: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(unb64url(token.split(".")[1]))
    return result


class RoutingTransport(AioHttpTransport):
    """Sends every https request to the local fake server, keeping the host as the first path part."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base = base_url.rstrip("/")

    async def send(self, request: Any, **kwargs: Any) -> Any:
        original = request.url
        parts = urlsplit(original)
        if parts.scheme == "https":
            request.url = f"{self._base}/{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        try:
            return await super().send(request, **kwargs)
        finally:
            request.url = original


class StaticCredential:
    """An AsyncTokenCredential that always returns one token (the vault's own access)."""

    def __init__(self, token: str = VAULT_TOKEN) -> None:
        self.token = token

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None


@dataclasses.dataclass
class VaultSecret:
    value: str
    version: str
    exp: int | None
    content_type: str | None
    tags: dict[str, str]
    created: int


@dataclasses.dataclass
class FakeTenant:
    """Entra ID + Key Vault state; tests arrange it and read what happened."""

    check_secret: Callable[[str, str], Any] = lambda app_id, secret: "invalid"  # may return an awaitable
    roles: list[str] = dataclasses.field(default_factory=list)
    certificates: dict[str, x509.Certificate] = dataclasses.field(default_factory=dict)  # app_id -> cert
    federated: dict[str, str] = dataclasses.field(default_factory=dict)  # app_id -> MI client id
    secrets: dict[str, list[VaultSecret]] = dataclasses.field(default_factory=dict)
    token_requests: list[dict[str, str]] = dataclasses.field(default_factory=list)
    vault_requests: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    vault_faults: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)  # (method, name)
    token_fault: int | None = None
    _ids: Any = dataclasses.field(default_factory=lambda: itertools.count(1))

    # ------------------------------------------------------------ arrange

    def put_secret(self, name: str, value: str, *, expires_on: datetime | None = None,
                   content_type: str | None = None, tags: dict[str, str] | None = None) -> str:
        version = f"{next(self._ids):032x}"
        exp = int(expires_on.timestamp()) if expires_on else None
        self.secrets.setdefault(name, []).append(
            VaultSecret(value, version, exp, content_type, dict(tags or {}), int(time.time())))
        return version

    def current(self, name: str) -> VaultSecret:
        return self.secrets[name][-1]

    # ------------------------------------------------------------ token endpoint

    def _token(self, app_id: str) -> dict[str, Any]:
        now = int(time.time())
        claims = {"aud": "https://graph.microsoft.com", "appid": app_id, "roles": list(self.roles),
                  "iat": now, "exp": now + 3600, "tid": "tenant"}
        return {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
                "access_token": make_jwt(claims)}

    @staticmethod
    def _error(code: str, text: str, status: int = 401) -> web.Response:
        return web.json_response({"error": "invalid_client", "error_description": f"{code}: {text}",
                                  "error_codes": [int(code.removeprefix("AADSTS"))]}, status=status)

    def _check_assertion(self, app_id: str, assertion: str) -> str | None:
        """None if the client assertion is valid, else the AADSTS code."""
        head, body, sig = assertion.split(".")
        header = json.loads(unb64url(head))
        claims = json.loads(unb64url(body))
        mi_client = self.federated.get(app_id)
        if mi_client is not None and header.get("alg") == "none":
            ok = claims.get("aud") == "api://AzureADTokenExchange" and claims.get("sub") == mi_client
            return None if ok else "AADSTS70021"
        cert = self.certificates.get(app_id)
        if cert is None:
            return "AADSTS700027"
        scheme: Any = (padding.PKCS1v15() if header.get("alg") == "RS256" else
                       padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size))
        try:
            key: Any = cert.public_key()
            key.verify(unb64url(sig), f"{head}.{body}".encode(), scheme, hashes.SHA256())
        except Exception:
            return "AADSTS700027"
        if cert.not_valid_after_utc <= datetime.now(UTC):
            return "AADSTS700027"
        return None

    async def token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_requests.append({k: str(v) for k, v in form.items() if k != "client_secret"})
        if self.token_fault is not None:
            return web.json_response({"error": "temporarily_unavailable"}, status=self.token_fault)
        app_id = str(form.get("client_id"))
        if "client_secret" in form:
            verdict = self.check_secret(app_id, str(form["client_secret"]))
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if verdict == "expired":
                return self._error("AADSTS7000222", f"The provided client secret keys for app '{app_id}' "
                                   "are expired.")
            if verdict != "ok":
                return self._error("AADSTS7000215", "Invalid client secret provided.")
            return web.json_response(self._token(app_id))
        if "client_assertion" in form:
            code = self._check_assertion(app_id, str(form["client_assertion"]))
            if code:
                return self._error(code, "Client assertion failed signature validation.")
            return web.json_response(self._token(app_id))
        return self._error("AADSTS7000218", "The request body must contain client_assertion or client_secret.",
                           400)

    async def managed_identity(self, request: web.Request) -> web.Response:
        if request.headers.get("X-IDENTITY-HEADER") != MI_HEADER:
            return web.json_response({"error": "bad identity header"}, status=401)
        client_id = request.query.get("client_id", "")
        resource = request.query.get("resource", "")
        now = int(time.time())
        token = make_jwt({"aud": resource.removesuffix("/.default"), "sub": client_id, "iat": now})
        return web.json_response({"access_token": token, "expires_on": str(now + 3600), "resource": resource,
                                  "token_type": "Bearer", "client_id": client_id})

    # ------------------------------------------------------------ key vault

    def _secret_json(self, name: str, item: VaultSecret) -> dict[str, Any]:
        attributes: dict[str, Any] = {"enabled": True, "created": item.created, "updated": item.created,
                                      "recoveryLevel": "Recoverable+Purgeable"}
        if item.exp is not None:
            attributes["exp"] = item.exp
        out: dict[str, Any] = {"value": item.value, "id": f"{VAULT_URL}/secrets/{name}/{item.version}",
                               "attributes": attributes, "tags": item.tags}
        if item.content_type:
            out["contentType"] = item.content_type
        return out

    def _vault_gate(self, request: web.Request, name: str) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {VAULT_TOKEN}":
            return web.json_response(
                {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer token."}},
                status=401, headers={"WWW-Authenticate": f'Bearer authorization="{AUTHORITY}/tenant", '
                                                         'resource="https://vault.azure.net"'})
        self.vault_requests.append((request.method, name))
        status = self.vault_faults.pop((request.method, name), None)
        if status is not None:
            return web.json_response({"error": {"code": "Injected", "message": "injected fault"}}, status=status)
        return None

    async def get_secret(self, request: web.Request) -> web.Response:
        name, version = request.match_info["name"], request.match_info.get("version", "")
        gate = self._vault_gate(request, name)
        if gate is not None:
            return gate
        for item in reversed(self.secrets.get(name, [])):
            if version in ("", item.version):
                return web.json_response(self._secret_json(name, item))
        return web.json_response({"error": {"code": "SecretNotFound",
                                            "message": f"A secret with (name/id) {name} was not found."}},
                                 status=404)

    async def set_secret(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        raw = await request.read()  # read before the gate: the challenge probe has no body
        gate = self._vault_gate(request, name)
        if gate is not None:
            return gate
        body = json.loads(raw)
        exp = (body.get("attributes") or {}).get("exp")
        self.put_secret(name, body["value"], content_type=body.get("contentType"), tags=body.get("tags"),
                        expires_on=datetime.fromtimestamp(exp, UTC) if exp else None)
        return web.json_response(self._secret_json(name, self.current(name)))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"/{AUTHORITY_HOST}/{{tenant}}/oauth2/v2.0/token", self.token)
        app.router.add_get("/msi/token", self.managed_identity)
        app.router.add_get(f"/{VAULT_HOST}/secrets/{{name}}", self.get_secret)
        app.router.add_get(f"/{VAULT_HOST}/secrets/{{name}}/", self.get_secret)
        app.router.add_get(f"/{VAULT_HOST}/secrets/{{name}}/{{version}}", self.get_secret)
        app.router.add_put(f"/{VAULT_HOST}/secrets/{{name}}", self.set_secret)
        return app



def simulator_secret_check(sim_base_url: str) -> Callable[[str, str], Any]:
    """A ``check_secret`` that asks the Graph simulator (``GET /_sim/applications`` lists secret texts)."""
    import httpx

    from shared.credentials.graph_admin import parse_graph_time

    async def check(app_id: str, secret: str) -> str:
        async with httpx.AsyncClient() as client:
            apps = (await client.get(f"{sim_base_url}/_sim/applications")).json()
        for app in apps:
            if app["appId"] != app_id:
                continue
            for cred in app["passwordCredentials"]:
                if cred.get("secretText") == secret:
                    end = parse_graph_time(cred["endDateTime"])
                    return "ok" if end is None or end > datetime.now(UTC) else "expired"
        return "invalid"

    return check
