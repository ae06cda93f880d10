"""Application objects for credential checks: ``/applications/{id}``, ``/applications(appId='...')``,
``addPassword`` (the secret text is returned once), ``removePassword``.

One application is seeded at start (``SEED_OBJECT_ID`` / ``SEED_APP_ID`` unless ``--app-id`` is
given) with one password credential valid for a year; ``POST /_sim/applications`` adds more and
``GET /_sim/applications`` shows them with every secret ever issued (for assertions).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

from sim.graph import ids, odata, schema
from sim.graph.call import Call, Reply, no_content, ok
from sim.graph.errors import GraphError
from sim.graph.router import Router

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim
    from sim.graph.tenant import Tenant

SEED_OBJECT_ID = "3f1c9c2e-5e7a-4a51-9d7e-0d3c2b6a0e01"
SEED_APP_ID = "8a7e6d5c-4b3a-4c2d-9e1f-0a1b2c3d4e5f"
DEFAULT_LIFETIME = dt.timedelta(days=730)


def new_credential(tenant: Tenant, display_name: str | None, end: str | None, start: str | None = None,
                   secret: str | None = None) -> dict[str, Any]:
    text = secret or secrets.token_urlsafe(30)[:40]
    start_at = start or ids.stamp()
    end_at = end or ids.stamp(ids.parse_stamp(start_at) + DEFAULT_LIFETIME)
    key_id = ids.guid()
    tenant.secrets[key_id] = text
    return {"customKeyIdentifier": None, "displayName": display_name, "endDateTime": end_at,
            "hint": text[:3], "keyId": key_id, "secretText": None, "startDateTime": start_at}


def add_application(tenant: Tenant, display_name: str, app_id: str | None = None,
                    object_id: str | None = None, credentials: list[dict[str, Any]] | None = None
                    ) -> dict[str, Any]:
    app: dict[str, Any] = {"id": object_id or ids.guid(), "appId": app_id or ids.guid(), "displayName": display_name,
           "signInAudience": "AzureADMyOrg", "createdDateTime": ids.stamp(), "keyCredentials": [],
           "passwordCredentials": credentials or []}
    tenant.applications[app["id"]] = app
    return app


def seed(tenant: Tenant, app_id: str | None = None) -> dict[str, Any]:
    year = ids.stamp(ids.now() + dt.timedelta(days=365))
    return add_application(tenant, "exsync", app_id or SEED_APP_ID, SEED_OBJECT_ID,
                           [new_credential(tenant, "initial", year)])


def find(tenant: Tenant, ident: str) -> dict[str, Any]:
    if ident.lower().startswith("appid="):
        wanted = ident.split("=", 1)[1].strip("'\"").lower()
        for app in tenant.applications.values():
            if app["appId"].lower() == wanted:
                return app
    elif ident in tenant.applications:
        return tenant.applications[ident]
    raise GraphError(404, "Request_ResourceNotFound",
                     f"Resource '{ident}' does not exist or one of its queried reference-property objects are "
                     "not present.")


def _row(call: Call, app: dict[str, Any]) -> dict[str, Any]:
    return {"@odata.context": f"{call.base_url}/v1.0/$metadata#applications/$entity", **app}


async def list_applications(call: Call, sim: Sim) -> Reply:
    pred = odata.parse_filter(call.query.get("$filter"))
    rows = [a for a in sim.tenant.applications.values() if pred is None or pred(a)]
    return ok({"@odata.context": f"{call.base_url}/v1.0/$metadata#applications", "value": rows})


async def get_application(call: Call, sim: Sim, ident: str) -> Reply:
    return ok(_row(call, find(sim.tenant, ident)))


async def add_password(call: Call, sim: Sim, ident: str) -> Reply:
    app = find(sim.tenant, ident)
    body = schema.action_params(call.json_object(), ["passwordCredential"], "addPassword")
    spec = body.get("passwordCredential") or {}
    schema.validate(spec, "passwordCredential", "passwordCredential.")
    credential = new_credential(sim.tenant, spec.get("displayName"), spec.get("endDateTime"),
                                spec.get("startDateTime"))
    app["passwordCredentials"].append(credential)
    return ok({"@odata.context": f"{call.base_url}/v1.0/$metadata#microsoft.graph.passwordCredential",
               **credential, "secretText": sim.tenant.secrets[credential["keyId"]]})


async def remove_password(call: Call, sim: Sim, ident: str) -> Reply:
    app = find(sim.tenant, ident)
    body = schema.action_params(call.json_object(), ["keyId"], "removePassword")
    key_id = body.get("keyId")
    if not isinstance(key_id, str):
        raise GraphError(400, "Request_BadRequest", "removePassword takes exactly one parameter, 'keyId'.")
    remaining = [c for c in app["passwordCredentials"] if c["keyId"] != key_id]
    if len(remaining) == len(app["passwordCredentials"]):
        raise GraphError(400, "Request_BadRequest", f"No password credential with keyId '{key_id}' was found.")
    app["passwordCredentials"] = remaining
    return no_content()


def register(router: Router) -> None:
    router.add("GET", "applications", list_applications)
    router.add("GET", "applications/{ident}", get_application)
    router.add("POST", "applications/{ident}/addPassword", add_password)
    router.add("POST", "applications/{ident}/removePassword", remove_password)
