"""Subscription keeper: create, renew before expiry, recreate lost ones, delete unwanted ones."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from shared.admin.subscriptions import KIND, keep_subscriptions
from shared.domain.config import Mailbox, SyncPolicy
from shared.errors import NotFound
from tests.functions.conftest import CLIENT_STATE, Env


class TwinSubscriptions:
    """In-memory stand-in for Graph /subscriptions (what the keeper asked for, and what exists)."""

    def __init__(self) -> None:
        self.live: dict[str, dict[str, object]] = {}
        self.ids = itertools.count(1)
        self.reauthorized: list[str] = []

    async def create(self, *, resource: str, notification_url: str, lifecycle_url: str, client_state: str,
                     expires_at: datetime) -> str:
        sub_id = f"sub-{next(self.ids)}"
        self.live[sub_id] = {"resource": resource, "url": notification_url, "lifecycle": lifecycle_url,
                             "client_state": client_state, "expires": expires_at}
        return sub_id

    async def renew(self, subscription_id: str, expires_at: datetime) -> None:
        if subscription_id not in self.live:
            raise NotFound(subscription_id)
        self.live[subscription_id]["expires"] = expires_at

    async def reauthorize(self, subscription_id: str) -> None:
        if subscription_id not in self.live:
            raise NotFound(subscription_id)
        self.reauthorized.append(subscription_id)

    async def delete(self, subscription_id: str) -> None:
        self.live.pop(subscription_id, None)


async def test_keeper_lifecycle(env: Env) -> None:
    env.rt.settings = env.rt.settings.model_copy(update={"graph_notification_url": "https://app.example/api"})
    await env.seed("ann@contoso.com", policy=SyncPolicy(name="mail-only", contacts={"enabled": False},
                                                        events={"enabled": False}, tasks={"enabled": False}))
    graph = TwinSubscriptions()
    report = await keep_subscriptions(env.rt, lambda server: graph)
    assert report.created == 1
    [(sub_id, sub)] = graph.live.items()
    assert sub["url"] == "https://app.example/api/graph/notifications" and sub["client_state"] == CLIENT_STATE
    assert str(sub["resource"]).startswith("users/ann@contoso.com/mailFolders/")
    doc = await env.store.get_doc(KIND, sub_id)
    assert doc is not None and doc.value["mailbox"] == "ann@contoso.com" and doc.value["record_type"] == "email"

    report = await keep_subscriptions(env.rt, lambda server: graph)  # nothing due
    assert (report.created, report.renewed) == (0, 0)

    env.clock.current += timedelta(days=2, hours=1)  # within a day of expiry: renewed
    report = await keep_subscriptions(env.rt, lambda server: graph)
    assert report.renewed == 1 and list(graph.live) == [sub_id]

    doc = await env.store.get_doc(KIND, sub_id)  # a reauthorizationRequired lifecycle event flagged it
    assert doc is not None
    await env.store.put_doc(KIND, sub_id, {**doc.value, "renew_now": True}, force=True)
    report = await keep_subscriptions(env.rt, lambda server: graph)
    assert report.renewed == 1 and graph.reauthorized == [sub_id]
    doc = await env.store.get_doc(KIND, sub_id)
    assert doc is not None and doc.value["renew_now"] is False

    graph.live.clear()  # Graph lost it: recreated on the next renewal
    env.clock.current += timedelta(days=2, hours=1)
    report = await keep_subscriptions(env.rt, lambda server: graph)
    assert report.recreated == 1 and len(graph.live) == 1 and sub_id not in graph.live
    assert await env.store.get_doc(KIND, sub_id) is None

    await env.store.put_mailbox(Mailbox(email="ann@contoso.com", server="main", employee_id="EP0000",
                                        sync=False, policy="mail-only"), force=True)
    report = await keep_subscriptions(env.rt, lambda server: graph)  # mailbox no longer synced
    assert report.deleted == 1 and graph.live == {} and await env.store.list_docs(KIND) == []


async def test_keeper_is_off_without_notification_url(env: Env) -> None:
    await env.seed("ann@contoso.com")
    graph = TwinSubscriptions()
    report = await keep_subscriptions(env.rt, lambda server: graph)
    assert report.created == 0 and graph.live == {}
