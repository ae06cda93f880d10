"""Graph change-notification subscriptions: one per synced mail folder (and contact folder, calendar).

The keeper (a timer) makes the stored set match what the policies want:
- a wanted subscription with no record is created (``POST /subscriptions``);
- one expiring within ``RENEW_BEFORE`` is renewed (``PATCH /subscriptions/{id}``); one flagged by a
  ``reauthorizationRequired`` lifecycle event is reauthorized (``POST …/reauthorize``) and renewed;
  one Graph no longer knows (404) is recreated;
- one nobody wants any more (mailbox removed or disabled, type turned off) is deleted.
Records live in the DocumentStore, kind ``subscriptions``, keyed by subscription id, so a
notification finds its mailbox with one read. System mailboxes' Inbox subscriptions are kept by the
same rules in kind ``system_subscriptions`` (:func:`keep_inbox_subscriptions`).
A failing mailbox never stops the others.
To Do tasks have no application-permission subscriptions: they are polled by the schedule.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from shared.admin.lookup import policy_named
from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import RecordType
from shared.errors import AuthenticationFailed, ExsyncError, NotFound, RemoteError, Throttled
from shared.mailproc import intake
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

KIND = "subscriptions"
LIFETIME = timedelta(days=3)       # Outlook resources allow up to 10,080 minutes
RENEW_BEFORE = timedelta(days=1)   # renew well before expiry
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class SubscriptionClient(Protocol):
    async def create(self, *, resource: str, notification_url: str, lifecycle_url: str, client_state: str,
                     expires_at: datetime) -> str:
        """Create a subscription; its id."""
        ...

    async def renew(self, subscription_id: str, expires_at: datetime) -> None:
        """Extend it; NotFound when Graph no longer has it."""
        ...

    async def reauthorize(self, subscription_id: str) -> None:
        """Answer a ``reauthorizationRequired`` lifecycle event; NotFound when it is gone."""
        ...

    async def delete(self, subscription_id: str) -> None: ...


def _graph_time(moment: datetime) -> str:
    return moment.astimezone().isoformat(timespec="seconds")


class GraphSubscriptionClient:
    """``/subscriptions`` on Graph (or the simulator) with the server's token credential."""

    def __init__(self, base_url: str, credential: Any, *, http: httpx.AsyncClient | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._credential = credential
        self._http = http or httpx.AsyncClient(timeout=30)
        self._own_http = http is None

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        token = await self._credential.get_token(GRAPH_SCOPE) if self._credential is not None else None
        headers = {"Prefer": 'IdType="ImmutableId"'}
        if token is not None:
            headers["Authorization"] = f"Bearer {token.token}"
        try:
            response = await self._http.request(method, f"{self._base}{path}", json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise RemoteError(f"Graph {method} {path}: {exc}") from exc
        if response.status_code == 404:
            raise NotFound(f"Graph {method} {path}: subscription not found")
        if response.status_code in (401, 403):
            raise AuthenticationFailed(f"Graph {method} {path}: {response.status_code}", status=response.status_code)
        if response.status_code == 429:
            retry = response.headers.get("Retry-After")
            raise Throttled(f"Graph {method} {path} throttled", retry_after=float(retry) if retry else None)
        if response.status_code >= 400:
            raise RemoteError(f"Graph {method} {path}: {response.status_code} {response.text[:200]}",
                              status=response.status_code)
        return response

    async def create(self, *, resource: str, notification_url: str, lifecycle_url: str, client_state: str,
                     expires_at: datetime) -> str:
        response = await self._request("POST", "/subscriptions", {
            "changeType": "created,updated,deleted", "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_url, "resource": resource,
            "expirationDateTime": _graph_time(expires_at), "clientState": client_state})
        return str(response.json()["id"])

    async def renew(self, subscription_id: str, expires_at: datetime) -> None:
        await self._request("PATCH", f"/subscriptions/{subscription_id}",
                            {"expirationDateTime": _graph_time(expires_at)})

    async def reauthorize(self, subscription_id: str) -> None:
        await self._request("POST", f"/subscriptions/{subscription_id}/reauthorize")

    async def delete(self, subscription_id: str) -> None:
        try:
            await self._request("DELETE", f"/subscriptions/{subscription_id}")
        except NotFound:
            return

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()


@dataclasses.dataclass(frozen=True, slots=True)
class Wanted:
    mailbox: str
    server: str
    record_type: RecordType
    resource: str


@dataclasses.dataclass
class KeeperReport:
    created: int = 0
    renewed: int = 0
    recreated: int = 0
    deleted: int = 0
    failed: int = 0


ClientFor = Callable[[ServerConfig], SubscriptionClient]


async def _wanted_for(rt: Runtime, server: ServerConfig, mailbox: Mailbox, policy: SyncPolicy) -> list[Wanted]:
    gateway = await rt.mailbox_gateway(server)
    out = []
    email = mailbox.email
    if policy.emails.enabled:
        folder = await gateway.ensure_container(email, RecordType.EMAIL, policy.emails.folder)
        out.append(Wanted(email, server.name, RecordType.EMAIL, f"users/{email}/mailFolders/{folder}/messages"))
    if policy.contacts.enabled:
        folder = await gateway.ensure_container(email, RecordType.CONTACT, policy.contacts.folder)
        out.append(Wanted(email, server.name, RecordType.CONTACT,
                          f"users/{email}/contactFolders/{folder}/contacts"))
    if policy.events.enabled:
        calendar = await gateway.ensure_container(email, RecordType.EVENT, policy.events.folder)
        out.append(Wanted(email, server.name, RecordType.EVENT, f"users/{email}/calendars/{calendar}/events"))
    return out


async def keep_subscriptions(rt: Runtime, client_for: ClientFor) -> KeeperReport:
    """Create, renew, recreate and delete subscriptions so they match the synced folders."""
    report = KeeperReport()
    settings = rt.settings
    if not settings.graph_notification_url or settings.graph_client_state is None:
        logger.info("subscriptions off: EXSYNC_GRAPH_NOTIFICATION_URL or EXSYNC_GRAPH_CLIENT_STATE is unset")
        return report
    base = settings.graph_notification_url.rstrip("/")
    urls = (f"{base}/graph/notifications", f"{base}/graph/lifecycle")
    now = rt.clock.now()
    stored = {(d.value["mailbox"], d.value["record_type"]): (key, d.value) for key, d in await rt.state.list_docs(KIND)}
    servers = {s.value.name: s.value for s in await rt.state.list_servers() if s.value.is_active}
    seen: set[tuple[str, str]] = set()
    for server in servers.values():
        client = client_for(server)
        for mbox in (m.value for m in await rt.state.list_mailboxes(server.name) if m.value.sync):
            try:
                policy = await policy_named(rt.state, mbox.policy_name(server))
                if policy is None:
                    continue
                for want in await _wanted_for(rt, server, mbox, policy):
                    seen.add((want.mailbox, want.record_type.value))
                    current = stored.get((want.mailbox, want.record_type.value))
                    await _keep_one(rt, client, want, current, urls, now, report)
            except ExsyncError as exc:
                report.failed += 1
                logger.warning("subscriptions of a mailbox on %s failed: %s", server.name, exc)
    for (email, rtype), (key, value) in stored.items():
        if (email, rtype) not in seen:
            owner = servers.get(value.get("server", ""))
            try:
                if owner is not None:
                    await client_for(owner).delete(key)
                await rt.state.delete_doc(KIND, key)
                report.deleted += 1
            except ExsyncError as exc:
                report.failed += 1
                logger.warning("deleting an unwanted subscription failed: %s", exc)
    await keep_inbox_subscriptions(rt, client_for, urls, now, report)  # system mailboxes' Inboxes
    logger.info("subscriptions: %d created, %d renewed, %d recreated, %d deleted, %d failed", report.created,
                report.renewed, report.recreated, report.deleted, report.failed)
    return report


async def _keep_one(rt: Runtime, client: SubscriptionClient, want: Wanted, current: tuple[str, dict[str, Any]] | None,
                    urls: tuple[str, str], now: datetime, report: KeeperReport, kind: str = KIND) -> None:
    expires = now + LIFETIME
    if current is not None and current[1].get("resource") == want.resource:
        key, value = current
        due = value.get("renew_now") or datetime.fromisoformat(value["expires_at"]) - now < RENEW_BEFORE
        if not due:
            return
        try:
            if value.get("renew_now"):
                await client.reauthorize(key)
            await client.renew(key, expires)
            await rt.state.put_doc(kind, key, {**value, "expires_at": expires.isoformat(), "renew_now": False},
                                   force=True)
            report.renewed += 1
            return
        except NotFound:
            report.recreated += 1
            report.created -= 1  # counted below as a creation; report it as a re-creation
    if current is not None:
        await client.delete(current[0])
        await rt.state.delete_doc(kind, current[0])
    assert rt.settings.graph_client_state is not None
    sub_id = await client.create(resource=want.resource, notification_url=urls[0], lifecycle_url=urls[1],
                                 client_state=rt.settings.graph_client_state.get_secret_value(), expires_at=expires)
    await rt.state.put_doc(kind, sub_id, {"mailbox": want.mailbox, "server": want.server,
                                          "record_type": want.record_type.value, "resource": want.resource,
                                          "expires_at": expires.isoformat(), "renew_now": False}, force=True)
    report.created += 1


async def keep_with_graph(rt: Runtime) -> KeeperReport:
    """Run the keeper with a Graph subscription client per server (closed afterwards)."""
    clients: dict[str, GraphSubscriptionClient] = {}

    def client_for(server: ServerConfig) -> SubscriptionClient:
        if server.name not in clients:
            credential = rt.graph_credential(server) if rt.graph_credential is not None else None
            clients[server.name] = GraphSubscriptionClient(server.graph_base_url, credential)
        return clients[server.name]

    try:
        return await keep_subscriptions(rt, client_for)
    finally:
        for client in clients.values():
            await client.aclose()


# ---------------------------------------------------------------- system mailboxes' Inboxes


async def keep_inbox_subscriptions(rt: Runtime, client_for: ClientFor, urls: tuple[str, str], now: datetime,
                                   report: KeeperReport) -> None:
    """A subscription on the Inbox of each processing system mailbox, by the keeper's rules."""
    stored = {d.value["mailbox"]: (key, d.value) for key, d in await rt.state.list_docs(intake.SUBSCRIPTIONS)}
    wanted: set[str] = set()
    for entry in await intake.list_all(rt):
        box = entry.mailbox
        if not box.processing:
            continue
        try:
            server = await intake.server_of(rt, box)
            resource = f"users/{box.address}/mailFolders('Inbox')/messages"
            want = Wanted(box.address, server.name, RecordType.EMAIL, resource)
            wanted.add(box.address)
            await _keep_one(rt, client_for(server), want, stored.get(box.address), urls, now, report,
                            intake.SUBSCRIPTIONS)
        except ExsyncError as exc:
            report.failed += 1
            logger.warning("Inbox subscription of a system mailbox failed: %s", exc)
    for address, (key, value) in stored.items():
        if address in wanted:
            continue
        try:
            owner = await rt.state.get_server(value.get("server", ""))
            if owner is not None:
                await client_for(owner.value).delete(key)
            await rt.state.delete_doc(intake.SUBSCRIPTIONS, key)
            report.deleted += 1
        except ExsyncError as exc:
            report.failed += 1
            logger.warning("deleting an unwanted Inbox subscription failed: %s", exc)
