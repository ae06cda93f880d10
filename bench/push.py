"""The push row: a mail filed in a synced folder, until its ERP activity exists.

The production path end to end, on the stack of :mod:`bench.stack`: the mail is created in the
mailbox's synced folder (as its user, in the Graph simulator), Graph's change notification is
posted to the notification intake (:func:`shared.admin.notifications.graph_notifications`, which
merges it into the waiting request and sends the wake-up call), the Storage queue on Azurite
carries it, and two local Functions hosts (:class:`devhost.host.LocalHost` with the production
worker blueprint and host.json's queue options) race for the message and for the mailbox's
lease. Each mail is sent with Graph's two notifications (``created`` and ``updated``), and mails
arrive faster than a run takes, so requests keep finding the mailbox busy.

A mail counts as arrived when its link exists (written right after the ERP's create answered):
the latency is from the mail's creation to that moment, polled every ``POLL_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import azure.functions as func
import httpx
from pydantic import SecretStr

from bench.scenarios import SERVER, Env, checked, employee
from bench.stack import SEED_TOKEN, Bench
from devhost.host import LocalHost, QueueOptions
from functions._runtime import use_runtime
from functions.worker import bp as worker_blueprint
from shared.admin.http import ApiRequest
from shared.admin.notifications import SUBSCRIPTIONS, graph_notifications
from shared.admin.storage_queue import StorageSyncQueue
from shared.domain.config import Mailbox, SyncPolicy
from shared.domain.records import RecordType
from shared.runtime import Runtime

POLL_SECONDS = 0.05
GIVE_UP_SECONDS = 60.0
CLIENT_STATE = "bench-client-state"
GAPS = (0.15, 0.6, 0.3, 1.5, 0.1, 0.9)
"""Seconds between two mails, in turn: some arrive during a run, some after the queue went quiet."""


def emails_policy() -> SyncPolicy:
    return SyncPolicy(name="emails", contacts={"enabled": False}, tasks={"enabled": False},
                      events={"enabled": False})


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


async def push_latency(env: Env, mails: int) -> dict[str, Any]:
    mailbox = Mailbox(email="push@contoso.test", server=SERVER.name, employee_id=employee(4))
    async with env.bench(emails_policy(), [mailbox]) as bench:
        checked(await bench.sync(mailbox.email))  # the first run makes the synced folder
        async with _hosts(env, bench) as rt:
            folder = await _folder_id(env.graph_url, mailbox.email, emails_policy().emails.folder)
            await rt.state.put_doc(SUBSCRIPTIONS, "push-sub", {"mailbox": mailbox.email,
                                                               "record_type": RecordType.EMAIL.value}, force=True)
            arrivals = []
            with _Tally() as tally:
                for n in range(mails):
                    arrivals.append(asyncio.create_task(_one_mail(rt, env.graph_url, mailbox.email, folder, n)))
                    await asyncio.sleep(GAPS[n % len(GAPS)])
                latencies = await asyncio.gather(*arrivals)
    return {"mails": mails, "p50_s": round(statistics.median(latencies), 2),
            "p95_s": round(percentile(latencies, 0.95), 2), "max_s": round(max(latencies), 2),
            "latencies_s": [round(x, 2) for x in latencies], "runs": tally.runs,
            "run_seconds": [round(x, 2) for x in tally.run_seconds],
            "messages_finding_the_mailbox_busy": tally.busy, "busy_messages_back_in_s": tally.back_in,
            "messages_ending_quietly": tally.quiet}


class _Tally(logging.Handler):
    """Counts the worker's runs, busy messages and quiet ends from its log records (while entered)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.runs = self.busy = self.quiet = 0
        self.run_seconds: list[float] = []
        self.back_in: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if getattr(record, "event", None) == "exsync.sync.run":
            self.runs += 1
            self.run_seconds.append(float(getattr(record, "duration_seconds", 0.0)))
        elif message.startswith("mailbox busy"):
            self.busy += 1
            self.back_in.append(int(message.rsplit("back in ", 1)[-1].split()[0]))
        elif "message ends" in message or "nothing waits" in message:
            self.quiet += 1

    def __enter__(self) -> _Tally:
        worker = logging.getLogger("shared.admin.worker")
        self._level, self._propagate = worker.level, worker.propagate
        worker.setLevel(logging.INFO)
        worker.propagate = False  # counted here, not printed
        worker.addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        worker = logging.getLogger("shared.admin.worker")
        worker.removeHandler(self)
        worker.setLevel(self._level)
        worker.propagate = self._propagate


@contextlib.asynccontextmanager
async def _hosts(env: Env, bench: Bench) -> AsyncIterator[Runtime]:
    """Two local Functions hosts serving the worker on one Storage queue, with the bench's runtime."""
    name = f"push{uuid.uuid4().hex[:10]}"
    queue = StorageSyncQueue.from_connection_string(env.connection_string, name)
    await queue.ensure()
    settings = bench.rt.settings.model_copy(update={"graph_client_state": SecretStr(CLIENT_STATE), "sync_queue": name})
    rt = dataclasses.replace(bench.rt, settings=settings, queue=queue)
    app = func.FunctionApp()
    app.register_functions(worker_blueprint)
    options = QueueOptions.from_host_json()
    hosts = [LocalHost(app, function_key="bench", storage_connection=env.connection_string, port=0,
                       env={"EXSYNC_SYNC_QUEUE": name}, queue_options=options, timers=False) for _ in range(2)]
    use_runtime(rt)
    try:
        for host in hosts:
            await host.start()
        yield rt
    finally:
        for host in hosts:
            await host.stop()
        use_runtime(None)
        await queue.client.delete_queue()
        await queue.aclose()


async def _folder_id(graph_url: str, email: str, name: str) -> str:
    async with httpx.AsyncClient(base_url=f"{graph_url}/v1.0", headers={"Authorization": SEED_TOKEN}) as client:
        response = await client.get(f"/users/{email}/mailFolders", params={"$top": "100"})
        response.raise_for_status()
    return str(next(f["id"] for f in response.json()["value"] if f["displayName"] == name))


async def _one_mail(rt: Runtime, graph_url: str, email: str, folder: str, n: int) -> float:
    """Create mail ``n`` in the folder, post Graph's two notifications, wait for its link."""
    started = time.monotonic()
    headers = {"Authorization": SEED_TOKEN, "Prefer": 'IdType="ImmutableId"'}  # the ids the engine links
    async with httpx.AsyncClient(base_url=f"{graph_url}/v1.0", headers=headers) as client:
        response = await client.post(f"/users/{email}/mailFolders/{folder}/messages", json={
            "subject": f"Order {n}", "body": {"contentType": "text", "content": f"Order number {n}"},
            "from": {"emailAddress": {"address": f"buyer{n}@fabrikam.test"}},
            "toRecipients": [{"emailAddress": {"address": email}}]})
        response.raise_for_status()
    message_id = str(response.json()["id"])
    for change in ("created", "updated"):
        body = {"value": [{"subscriptionId": "push-sub", "clientState": CLIENT_STATE, "changeType": change,
                           "resource": f"users/{email}/messages/{message_id}"}]}
        answer = await graph_notifications(rt, ApiRequest("POST", body=json.dumps(body).encode()))
        assert answer.status == 202, answer.status
    while await rt.state.get_link_by_mailbox(email, RecordType.EMAIL, message_id) is None:
        if time.monotonic() - started > GIVE_UP_SECONDS:
            status = await rt.state.get_status(email)
            raise RuntimeError(f"mail {n} not in the ERP after {GIVE_UP_SECONDS} s; last run: "
                               f"{status.value.last_run if status else None}")
        await asyncio.sleep(POLL_SECONDS)
    return time.monotonic() - started
