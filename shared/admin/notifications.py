"""Incoming change notifications (Graph and the ERP) -> targeted sync requests.

A notification is never processed as truth: it only says *which mailbox to look at*; the worker's
delta read is the truth. Handlers answer fast (Graph wants < 3 s; we enqueue and return 202).

- Graph: ``validationToken`` handshake (echo as text/plain), ``clientState`` compared in constant
  time with ``EXSYNC_GRAPH_CLIENT_STATE``, subscription id -> (mailbox, type) from the
  DocumentStore kind ``subscriptions``. Lifecycle: ``missed`` -> resync, ``subscriptionRemoved`` ->
  forget it (the keeper recreates it), ``reauthorizationRequired`` -> renew at next keeper pass
  (marked due now).
- ERP (Acumatica push): shared-secret header ``X-Exsync-Secret`` compared in constant time with
  ``EXSYNC_ERP_WEBHOOK_SECRET``; each row goes to the mailboxes whose scope can see it, by the ERP
  feed's routing table (:mod:`shared.sync.routing`: owner, workgroup, addresses, attendees; an
  "all" contact filter hears of every contact) -- a row nobody's scope sees queues nobody.
  Deletions are only visible in pushes, so each notification is parsed once and its typed removals
  kept per targeted mailbox (:mod:`shared.admin.erp_pushes`) for that mailbox's next run.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable
from typing import Any

from shared.admin import erp_feed, erp_pushes
from shared.admin.enqueue import enqueue_syncs
from shared.admin.graph_payload import notification_items
from shared.admin.http import ApiRequest, ApiResponse, error_json
from shared.domain.records import RecordType
from shared.erp.push import parse_push
from shared.mailproc import intake
from shared.mailsend import pickup
from shared.runtime import Runtime
from shared.sync.routing import Subscriber, sighting_of_words
from shared.sync.routing import audience as audience_of

logger = logging.getLogger(__name__)

SUBSCRIPTIONS = "subscriptions"
ERP_PUSH = erp_pushes.KIND
ERP_SECRET_HEADER = "X-Exsync-Secret"


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def _subscription_targets(rt: Runtime, items: Iterable[dict[str, Any]]
                                ) -> dict[str, set[RecordType]]:
    targets: dict[str, set[RecordType]] = {}
    for item in items:
        sub_id = str(item.get("subscriptionId") or "")
        doc = await rt.state.get_doc(SUBSCRIPTIONS, sub_id) if sub_id else None
        if doc is None:
            logger.info("notification for an unknown subscription ignored")
            continue
        targets.setdefault(doc.value["mailbox"], set()).add(RecordType(doc.value["record_type"]))
    return targets


async def _enqueue_targets(rt: Runtime, targets: dict[str, set[RecordType]], reason: str) -> int:
    count = 0
    for email, types in targets.items():
        stored = await rt.state.get_mailbox(email)
        if stored is None or not stored.value.sync:
            continue
        await enqueue_syncs(rt, [stored.value], reason=reason, record_types=tuple(sorted(types)), coalesce=True)
        count += 1
    return count


def _client_state_ok(rt: Runtime, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    secret = rt.settings.graph_client_state
    if secret is None:
        logger.error("EXSYNC_GRAPH_CLIENT_STATE is not set: Graph notifications are rejected")
        return []
    good = [v for v in items if _same(v.get("clientState"), secret.get_secret_value())]
    if len(good) != len(items):
        logger.warning("%d notification(s) with a wrong clientState ignored", len(items) - len(good))
    return good


async def graph_notifications(rt: Runtime, req: ApiRequest) -> ApiResponse:
    """``POST /api/graph/notifications``."""
    token = req.query.get("validationToken")
    if token is not None:
        return ApiResponse.text(token)
    items = await intake.take_notifications(rt, _client_state_ok(rt, notification_items(req.body)))  # system mailboxes
    targets = await _subscription_targets(rt, items)
    queued = await _enqueue_targets(rt, targets, "graph")
    logger.info("graph notifications: %d accepted, %d mailbox sync(s) queued", len(items), queued)
    return ApiResponse.empty(202)


async def graph_lifecycle(rt: Runtime, req: ApiRequest) -> ApiResponse:
    """``POST /api/graph/lifecycle``: missed -> resync, removed -> recreate, reauthorize -> renew."""
    token = req.query.get("validationToken")
    if token is not None:
        return ApiResponse.text(token)
    items = await intake.take_notifications(rt, _client_state_ok(rt, notification_items(req.body)), lifecycle=True)
    missed = [v for v in items if v.get("lifecycleEvent") == "missed"]
    targets = await _subscription_targets(rt, missed)
    await _enqueue_targets(rt, targets, "lifecycle")
    for item in items:
        sub_id = str(item.get("subscriptionId") or "")
        event = item.get("lifecycleEvent")
        doc = await rt.state.get_doc(SUBSCRIPTIONS, sub_id) if sub_id else None
        if doc is None:
            continue
        if event == "subscriptionRemoved":
            await rt.state.delete_doc(SUBSCRIPTIONS, sub_id)
        elif event == "reauthorizationRequired":
            await rt.state.put_doc(SUBSCRIPTIONS, sub_id, {**doc.value, "renew_now": True}, force=True)
    logger.info("graph lifecycle: %d event(s), %d missed", len(items), len(missed))
    return ApiResponse.empty(202)


# ---------------------------------------------------------------- ERP


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _push_audience(record_type: RecordType | None, rows: list[Any], audience: list[Subscriber]) -> set[str]:
    """The mailboxes whose scope can see a pushed row (the feed's routing table on the row's words;
    a ``Deleted`` row carries the old values, so the old owner hears of a record that left it)."""
    out: set[str] = set()
    for row in rows:
        words = list(_strings(row))
        types = [record_type] if record_type is not None else list(RecordType)
        for rtype in types:
            out.update(audience_of(sighting_of_words(rtype, words), audience))
    return out


async def erp_notifications(rt: Runtime, req: ApiRequest) -> ApiResponse:
    """``POST /api/erp/notifications`` (Acumatica push: Inserted/Deleted rows of a named query)."""
    secret = rt.settings.erp_webhook_secret
    if secret is None:
        return error_json(503, "not_configured", "set EXSYNC_ERP_WEBHOOK_SECRET to accept ERP notifications")
    if not _same(req.header(ERP_SECRET_HEADER), secret.get_secret_value()):
        return error_json(403, "forbidden", f"missing or wrong {ERP_SECRET_HEADER} header",
                          [{"field": ERP_SECRET_HEADER, "message": "send the secret of EXSYNC_ERP_WEBHOOK_SECRET"}])
    body = req.json_object()
    note = parse_push(body)  # once: a text TimeStamp or a bad array is a 400 naming the field
    rtype = note.record_type
    rows = [*(body.get("Inserted") or []), *(body.get("Deleted") or [])]
    seeing = _push_audience(rtype, rows, await erp_feed.subscribers(rt.state))
    chosen = [m.value for m in await rt.state.list_mailboxes() if m.value.sync and m.value.email in seeing]
    types = (rtype,) if rtype else None
    if body.get("Deleted") and rtype is not None:
        await erp_pushes.keep(rt.state, [m.email for m in chosen], note)
    run_id = await enqueue_syncs(rt, chosen, reason="erp", record_types=types, coalesce=True) if chosen else None
    await pickup.take_push(rt, body)  # ERP mail queued for a system mailbox's account goes out now
    logger.info("erp notification %s: %d row(s), %d mailbox sync(s) queued", body.get("Query"),
                len(rows), len(chosen))
    return ApiResponse.json({"run_id": run_id, "queued": len(chosen)}, 202)
