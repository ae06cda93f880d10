"""An Entra ID-like token endpoint beside the simulated tenant, for the client-credentials flow.

``POST /_sim/login/{tenant}/oauth2/v2.0/token`` (what ``login.microsoftonline.com`` serves; the
local host routes azure-identity there) takes ``grant_type=client_credentials``, ``client_id``,
``client_secret`` and ``scope=https://graph.microsoft.com/.default`` (or the simulator's own
``http://<host>/.default``: msgraph-sdk derives the scope from its base URL), checks the secret against the
application objects of :mod:`sim.graph.resources.applications` (their ``addPassword`` secrets and
end dates) and answers like Entra ID: a JWT access token whose ``roles`` are the application
permissions granted, or the AADSTS error Entra ID gives (700016 unknown application, 7000215
wrong secret, 7000222 expired secret, 1002012 wrong scope). ``PUT /_sim/login/roles`` with
``{"roles": [...]}`` sets the granted permissions (default: the required ones and
``Application.Read.All``, what the default deployment consents to).
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from sim.graph import ids

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PERMISSIONS = Path(__file__).resolve().parents[3] / "shared" / "graph_permissions.json"
LIFETIME = 3600


def default_roles() -> list[str]:
    """What the default deployment consents to: the required permissions and Application.Read.All."""
    data = json.loads(PERMISSIONS.read_text(encoding="utf-8"))
    return [str(row["name"]) for row in data["required"]] + ["Application.Read.All"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_token(tenant: str, app_id: str, roles: list[str]) -> str:
    """A JWT shaped like Entra ID's app-only Graph token (unsigned: the simulator does not verify it)."""
    now = int(time.time())
    claims = {"aud": "https://graph.microsoft.com", "iss": f"https://sts.windows.net/{tenant}/", "tid": tenant,
              "appid": app_id, "azp": app_id, "roles": roles, "iat": now, "nbf": now, "exp": now + LIFETIME}
    return ".".join((_b64(json.dumps({"typ": "JWT", "alg": "none"}).encode()),
                     _b64(json.dumps(claims).encode()), "sim"))


def _aadsts(code: int, error: str, text: str, status: int = 401) -> web.Response:
    return web.json_response({"error": error, "error_description": f"AADSTS{code}: {text}", "error_codes": [code],
                              "timestamp": ids.stamp()}, status=status)


def secret_verdict(sim: Sim, app_id: str, secret: str) -> str:
    """``ok``, ``expired``, ``invalid`` or ``unknown_app`` for a client id and secret."""
    app = next((a for a in sim.tenant.applications.values() if a["appId"].lower() == app_id.lower()), None)
    if app is None:
        return "unknown_app"
    for credential in app["passwordCredentials"]:
        if sim.tenant.secrets.get(credential["keyId"]) == secret:
            return "ok" if ids.parse_stamp(credential["endDateTime"]) > ids.now() else "expired"
    return "invalid"


def register(app: web.Application, sim: Sim) -> None:
    roles: dict[str, list[str]] = {"granted": default_roles()}

    async def token(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if form.get("grant_type") != "client_credentials":
            return _aadsts(70003, "unsupported_grant_type", "The app requested an unsupported grant type.", 400)
        # Graph, or the simulator itself as the resource (msgraph-sdk asks for <base URL>/.default)
        if form.get("scope") not in (GRAPH_SCOPE, f"{request.scheme}://{request.host}/.default"):
            return _aadsts(1002012, "invalid_scope", f"The provided value for scope {form.get('scope')} is not "
                                                     "valid. Client credential flows must have a scope value "
                                                     "with /.default suffixed to the resource identifier.", 400)
        app_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        verdict = secret_verdict(sim, app_id, secret)
        if verdict == "unknown_app":
            return _aadsts(700016, "unauthorized_client", f"Application with identifier '{app_id}' was not found "
                                                          "in the directory.", 400)
        if verdict == "expired":
            return _aadsts(7000222, "invalid_client", f"The provided client secret keys for app '{app_id}' are "
                                                      "expired.")
        if verdict != "ok":
            return _aadsts(7000215, "invalid_client", "Invalid client secret provided. Ensure the secret being "
                                                      "sent in the request is the client secret value, not the "
                                                      "client secret ID.")
        return web.json_response({"token_type": "Bearer", "expires_in": LIFETIME, "ext_expires_in": LIFETIME,
                                  "access_token": access_token(request.match_info["tenant"], app_id,
                                                               roles["granted"])})

    async def set_roles(request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("roles"), list):
            return web.json_response({"error": 'expected {"roles": ["Contacts.ReadWrite", ...]}'}, status=400)
        roles["granted"] = [str(r) for r in body["roles"]]
        return web.json_response({"roles": roles["granted"]})

    app.router.add_post("/_sim/login/{tenant}/oauth2/v2.0/token", token)
    app.router.add_put("/_sim/login/roles", set_roles)
