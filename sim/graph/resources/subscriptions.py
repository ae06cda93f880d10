"""Change-notification subscriptions: create (validation handshake), renew, delete, reauthorize,
notifications on message/contact/event changes, lifecycle notifications.

The handshake POSTs ``?validationToken=...`` to the notificationUrl (and lifecycleNotificationUrl)
and needs a 200 ``text/plain`` echo of the token within 10 s. ``http://`` is accepted for loopback
hosts only. Notifications are delivered in the background (up to 3 attempts, 3 s timeout each);
every attempt is listed by ``GET /_sim/notifications``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import secrets
import urllib.parse
from typing import TYPE_CHECKING, Any

import aiohttp

from sim.graph import ids, schema
from sim.graph.call import Call, Reply, no_content, ok
from sim.graph.errors import GraphError
from sim.graph.router import Router
from sim.graph.store import Item, Mailbox
from sim.graph.tenant import container_of

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim

log = logging.getLogger(__name__)
MAX_MINUTES = 10_080
MIN_MINUTES = 45
HANDSHAKE_TIMEOUT = 10.0
DELIVERY_TIMEOUT = 3.0
RETRY_DELAYS = (1.0, 4.0)
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
CHANGE_TYPES = {"created", "updated", "deleted"}
_RESOURCE = re.compile(
    r"^/?(?:users|Users)/(?P<user>[^/]+)/(?:(?P<parent>mailFolders|contactFolders|calendars)"
    r"(?:\('(?P<pq>[^']+)'\)|/(?P<ps>[^/]+))/)?(?P<coll>messages|contacts|events)$", re.I)
KIND_OF = {"messages": "message", "contacts": "contact", "events": "event"}
PARENT_KIND = {"mailfolders": "mailFolder", "contactfolders": "contactFolder", "calendars": "calendar"}
ODATA_TYPE = {"message": "#Microsoft.Graph.Message", "contact": "#Microsoft.Graph.Contact",
              "event": "#Microsoft.Graph.Event"}


def _invalid(message: str) -> GraphError:
    return GraphError(400, "ValidationError", message)


def _check_url(url: Any, field: str) -> str:
    if not isinstance(url, str) or not url:
        raise _invalid(f"{field} is required.")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "https":
        return url
    if parsed.scheme == "http" and (parsed.hostname or "") in LOOPBACK:
        return url
    raise _invalid(f"The {field} must be an https URL (http is accepted for loopback hosts only).")


def _expiry(value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid("expirationDateTime is required.")
    try:
        moment = ids.parse_stamp(value)
    except ValueError as exc:
        raise _invalid(f"expirationDateTime '{value}' is not a valid date and time.") from exc
    now = ids.now()
    if moment <= now:
        raise _invalid("Subscription expiration must be in the future.")
    if moment > now + dt.timedelta(minutes=MAX_MINUTES):
        raise _invalid(f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.")
    return ids.stamp(max(moment, now + dt.timedelta(minutes=MIN_MINUTES)))


def _resource(sim: Sim, resource: Any) -> tuple[Mailbox, str, str | None]:
    match = _RESOURCE.match(resource) if isinstance(resource, str) else None
    if match is None:
        raise GraphError(400, "InvalidRequest", f"The resource '{resource}' is not supported; subscribe to "
                         "users/{id}/messages, contacts or events, optionally under a folder or calendar.")
    mailbox = sim.tenant.find_user(urllib.parse.unquote(match.group("user")))
    if mailbox is None:
        raise GraphError(404, "ResourceNotFound", f"The user in resource '{resource}' does not exist.")
    container = None
    if match.group("parent"):
        parent = match.group("pq") or match.group("ps") or ""
        container = container_of(mailbox, PARENT_KIND[match.group("parent").lower()], parent).iid
    return mailbox, KIND_OF[match.group("coll").lower()], container


async def handshake(sim: Sim, url: str) -> None:
    token = secrets.token_urlsafe(16) + " " + secrets.token_hex(4)
    target = f"{url}{'&' if '?' in url else '?'}validationToken={urllib.parse.quote(token)}"
    try:
        async with sim.http().post(target, data=b"", headers={"Content-Type": "text/plain; charset=utf-8"},
                                   timeout=aiohttp.ClientTimeout(total=HANDSHAKE_TIMEOUT)) as response:
            text = await response.text()
            content_type = response.headers.get("Content-Type", "")
            good = response.status == 200 and content_type.startswith("text/plain") and text == token
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise _invalid(f"Subscription validation request failed: {url} is not reachable ({exc!r}).") from exc
    if not good:
        raise _invalid("Subscription validation request failed. Notification endpoint must respond with 200 OK "
                       "and the validationToken as text/plain within 10 seconds.")


def _row(call: Call | None, sub: dict[str, Any], base_url: str) -> dict[str, Any]:
    public = {k: v for k, v in sub.items() if not k.startswith("_")}
    return {"@odata.context": f"{base_url}/v1.0/$metadata#subscriptions/$entity", **public}


def _live(sim: Sim, ident: str) -> dict[str, Any]:
    sub = sim.tenant.subscriptions.get(ident)
    if sub is None or ids.parse_stamp(sub["expirationDateTime"]) <= ids.now():
        raise GraphError(404, "ResourceNotFound", f"The object was not found. (subscription '{ident}')")
    return sub


async def create(call: Call, sim: Sim) -> Reply:
    body = call.json_object()
    schema.validate(body, "subscription")
    url = _check_url(body.get("notificationUrl"), "notificationUrl")
    lifecycle = body.get("lifecycleNotificationUrl")
    if lifecycle is not None:
        _check_url(lifecycle, "lifecycleNotificationUrl")
    changes = [c.strip() for c in str(body.get("changeType") or "").split(",") if c.strip()]
    if not changes or set(changes) - CHANGE_TYPES:
        raise _invalid("changeType must be a comma-separated list of created, updated, deleted.")
    client_state = body.get("clientState")
    if client_state is not None and len(str(client_state)) > 128:
        raise _invalid("clientState may hold at most 128 characters.")
    mailbox, kind, container = _resource(sim, body.get("resource"))
    expires = _expiry(body.get("expirationDateTime"))
    await handshake(sim, url)
    if lifecycle and lifecycle != url:
        await handshake(sim, lifecycle)
    sub = {"id": ids.guid(), "resource": body["resource"], "applicationId": call.app_key[:36],
           "changeType": ",".join(changes), "clientState": client_state, "notificationUrl": url,
           "notificationQueryOptions": None, "lifecycleNotificationUrl": lifecycle,
           "expirationDateTime": expires, "creatorId": ids.guid(), "includeResourceData": False,
           "latestSupportedTlsVersion": "v1_2", "encryptionCertificate": None,
           "encryptionCertificateId": None, "notificationUrlAppId": None,
           "_mailbox": mailbox.upn, "_kind": kind, "_container": container, "_immutable": call.immutable}
    sim.tenant.subscriptions[sub["id"]] = sub
    return ok(_row(call, sub, call.base_url), 201)


async def list_subscriptions(call: Call, sim: Sim) -> Reply:
    now = ids.now()
    rows = [_row(call, s, call.base_url) for s in sim.tenant.subscriptions.values()
            if ids.parse_stamp(s["expirationDateTime"]) > now]
    for row in rows:
        row.pop("@odata.context")
    return ok({"@odata.context": f"{call.base_url}/v1.0/$metadata#subscriptions", "value": rows})


async def subscription(call: Call, sim: Sim, ident: str) -> Reply:
    sub = _live(sim, ident)
    if call.method == "GET":
        return ok(_row(call, sub, call.base_url))
    if call.method == "DELETE":
        del sim.tenant.subscriptions[ident]
        return no_content()
    body = call.json_object()
    schema.validate(body, "subscription")
    for key in body:
        if key not in {"expirationDateTime", "notificationUrl"} and "@" not in key:
            raise _invalid(f"Only expirationDateTime and notificationUrl can be updated, not '{key}'.")
    if "notificationUrl" in body:
        url = _check_url(body["notificationUrl"], "notificationUrl")
        await handshake(sim, url)
        sub["notificationUrl"] = url
    if "expirationDateTime" in body:
        sub["expirationDateTime"] = _expiry(body["expirationDateTime"])
    return ok(_row(call, sub, call.base_url))


async def reauthorize(call: Call, sim: Sim, ident: str) -> Reply:
    sub = _live(sim, ident)
    sub["_reauthorize"] = False
    return no_content()


# ---------------------------------------------------------------- delivery

def resource_path(mailbox: Mailbox, kind: str, ident: str) -> str:
    collection = {"message": "Messages", "contact": "Contacts", "event": "Events"}[kind]
    return f"Users/{mailbox.user['id']}/{collection}/{ident}"


def on_change(sim: Sim, mailbox: Mailbox, item: Item, change_type: str, container: str | None) -> None:
    """Queue a notification for every live subscription covering this change."""
    if item.kind not in ODATA_TYPE or not sim.tenant.subscriptions:
        return
    where = container if container is not None else item.container
    now = ids.now()
    for sub in list(sim.tenant.subscriptions.values()):
        if (sub["_mailbox"] != mailbox.upn or sub["_kind"] != item.kind
                or (sub["_container"] is not None and sub["_container"] != where)
                or change_type not in sub["changeType"].split(",")
                or ids.parse_stamp(sub["expirationDateTime"]) <= now):
            continue
        ident = item.ident(sub["_immutable"])
        path = resource_path(mailbox, item.kind, ident)
        note = {"subscriptionId": sub["id"], "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "changeType": change_type, "resource": path, "clientState": sub["clientState"],
                "tenantId": sim.tenant.tenant_id,
                "resourceData": {"@odata.type": ODATA_TYPE[item.kind], "@odata.id": path,
                                 "@odata.etag": f'W/"{item.change_key}"', "id": ident}}
        sim.spawn(deliver(sim, sub["notificationUrl"], {"value": [note]}, sub["id"], "change"))


async def deliver(sim: Sim, url: str, payload: dict[str, Any], sub_id: str, kind: str,
                  attempts: int = 1 + len(RETRY_DELAYS)) -> int | None:
    """POST a notification; retry on failure; record every attempt. The last status (None: no answer)."""
    status: int | None = None
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(RETRY_DELAYS[attempt - 1] / sim.time_scale)
        try:
            async with sim.http().post(url, data=json.dumps(payload),
                                       headers={"Content-Type": "application/json"},
                                       timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT)) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.debug("notification to %s failed: %r", url, exc)
            status = None
        sim.notifications.append({"subscriptionId": sub_id, "kind": kind, "url": url, "attempt": attempt + 1,
                                  "status": status, "payload": payload})
        if status is not None and 200 <= status < 300:
            break
    return status


async def lifecycle(sim: Sim, sub_id: str, event: str) -> int | None:
    sub = sim.tenant.subscriptions.get(sub_id)
    if sub is None:
        raise KeyError(sub_id)
    url = sub.get("lifecycleNotificationUrl")
    if not url:
        raise ValueError("subscriptionId: this subscription has no lifecycleNotificationUrl")
    note = {"subscriptionId": sub_id, "subscriptionExpirationDateTime": sub["expirationDateTime"],
            "tenantId": sim.tenant.tenant_id, "clientState": sub["clientState"], "lifecycleEvent": event,
            "resource": sub["resource"], "resourceData": None}
    if event == "reauthorizationRequired":
        sub["_reauthorize"] = True
    if event == "subscriptionRemoved":
        del sim.tenant.subscriptions[sub_id]
    return await deliver(sim, url, {"value": [note]}, sub_id, event, attempts=1)


def register(router: Router) -> None:
    router.add("POST", "subscriptions", create)
    router.add("GET", "subscriptions", list_subscriptions)
    router.add("GET,PATCH,DELETE", "subscriptions/{ident}", subscription)
    router.add("POST", "subscriptions/{ident}/reauthorize", reauthorize)
