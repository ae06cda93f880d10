"""``make demo``: a realistic company synced end to end through the real handlers, then verified.

1. Starts the serve stack (Azurite, the Graph and Acumatica simulators, the local Functions host).
2. Seeds the company: four employees, hundreds of ERP contacts, e-mail activities, tasks in every
   ERP status and events with attendees; in Microsoft 365 their own contacts, mail in the ERP
   folder, To Do tasks in every To Do status and appointments.
3. Configures a policy, a server and the mailboxes through the admin API (HTTP only).
4. Runs the schedule timer through the host (timer -> queue -> worker -> engine) and waits.
5. Edits both sides, including a conflict (same contact changed on both sides) and deletes.
6. Syncs again, then once more to show a converged run writes nothing.
7. Verifies convergence by reading both simulators through their own APIs and prints what moved.

Exits 0 when every check passes, 1 otherwise. ``--employees`` / ``--contacts`` scale it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import random
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from devhost.serve import Stack, running_stack
from devhost.services import free_port
from shared.domain.records import Attendee, EmailMessage, Event, Importance, Task
from shared.erp import mapping

logger = logging.getLogger(__name__)

ENDPOINT = "/entity/Default/24.200.001"
DOMAIN = "contoso.test"
FIRST = ["Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gia", "Hal", "Ines", "Jon", "Kai", "Lea", "Mo", "Nia",
         "Oli", "Pia", "Quin", "Rae", "Sam", "Tia", "Uma", "Vic", "Wes", "Xia", "Yan", "Zoe"]
LAST = ["Archer", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jones", "Khan",
        "Lopez", "Meyer", "Novak", "Okafor", "Patel", "Quinn", "Rossi", "Silva", "Tanaka", "Ueda", "Vogel"]
COMPANIES = ["Northwind", "Fabrikam", "Tailspin", "Litware", "Adatum", "Proseware", "Woodgrove", "Wingtip"]
ERP_STATUSES = ["Open", "Draft", "In Process", "Canceled", "Completed", "Approved", "Pending Approval", "Rejected"]
TODO_STATUSES = ["notStarted", "inProgress", "completed", "waitingOnOthers", "deferred"]
CATEGORY = "ERP"


def v(value: Any) -> dict[str, Any]:
    return {"value": value}


@dataclasses.dataclass(frozen=True)
class Employee:
    id: str
    email: str
    name: str


@dataclasses.dataclass
class Demo:
    stack: Stack
    api: httpx.AsyncClient
    graph: httpx.AsyncClient
    erp: httpx.AsyncClient
    employees: list[Employee]
    rng: random.Random
    contacts_per_employee: int
    checks: list[tuple[str, bool, str]] = dataclasses.field(default_factory=list)
    folders: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    snapshots: dict[str, dict[tuple[str, str], int]] = dataclasses.field(default_factory=dict)

    # ------------------------------------------------------------ HTTP helpers

    async def erp_list(self, entity: str, expand: str | None = None) -> list[dict[str, Any]]:
        params = {"$expand": expand} if expand else None
        resp = await self.erp.get(f"{ENDPOINT}/{entity}", params=params)
        resp.raise_for_status()
        return resp.json()  # type: ignore[no-any-return]

    async def erp_put(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await self.erp.put(f"{ENDPOINT}/{entity}", json=body)
        if resp.status_code != 200:
            raise RuntimeError(f"ERP PUT {entity}: {resp.status_code} {resp.text[:300]}")
        return resp.json()  # type: ignore[no-any-return]

    async def graph_all(self, path: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = f"/v1.0/{path}"
        while url:
            resp = await self.graph.get(url)
            resp.raise_for_status()
            data = resp.json()
            out.extend(data.get("value", []))
            url = data.get("@odata.nextLink")
        return out

    async def graph_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await self.graph.post(f"/v1.0/{path}", json=body)
        if resp.status_code not in (200, 201):
            raise RuntimeError(f"Graph POST {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json()  # type: ignore[no-any-return]

    async def call_api(self, method: str, path: str, body: Any = None) -> Any:
        resp = await self.api.request(method, path, json=body)
        if resp.status_code >= 400:
            raise RuntimeError(f"admin API {method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append((name, ok, detail))


# ---------------------------------------------------------------- seeding


def _person(rng: random.Random, n: int) -> tuple[str, str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return first, last, f"{first.lower()}.{last.lower()}.{n}@{rng.choice(COMPANIES).lower()}.example"


async def seed_erp(d: Demo) -> None:
    rng, now = d.rng, datetime.now(UTC).replace(microsecond=0)
    emps = [{"EmployeeID": v(e.id), "EmployeeName": v(e.name), "ContactInfo": {"Email": v(e.email)}}
            for e in d.employees]
    contacts, n = [], 0
    for e in d.employees:
        for _ in range(d.contacts_per_employee):
            first, last, email = _person(rng, n)
            n += 1
            contacts.append({"FirstName": v(first), "LastName": v(last), "Email": v(email),
                             "CompanyName": v(rng.choice(COMPANIES)), "JobTitle": v(rng.choice(
                                 ["Buyer", "CFO", "Engineer", "Office manager", "Sales lead"])),
                             "Phone1": v(f"+1 555 {rng.randint(1000, 9999)}"), "Owner": v(e.id)})
    resp = await d.erp.post("/_sim/seed", json={"Employee": emps, "Contact": contacts})
    resp.raise_for_status()
    tasks, events, emails = [], [], []
    for i, e in enumerate(d.employees):
        for j, status in enumerate(ERP_STATUSES):
            body = mapping.task_from_domain(Task(title=f"{e.name.split()[0]}: {status.lower()} follow-up {j}",
                                                 body="Call back about the quote", importance=Importance.NORMAL,
                                                 due_at=now + timedelta(days=j + 1)), owner=e.id)
            body["Status"] = v(status)
            tasks.append(body)
        other = d.employees[(i + 1) % len(d.employees)]
        for k in range(2):
            start = (now + timedelta(days=k + 1)).replace(hour=9 + 2 * k, minute=0, second=0)
            events.append(mapping.event_from_domain(Event(
                subject=f"{e.name.split()[0]} meets customer {k + 1}", body="Quarterly review",
                start=start, end=start + timedelta(hours=1), location="Room 1", organizer=e.email,
                attendees=(Attendee(other.email, other.name), Attendee(f"guest{i}{k}@fabrikam.example", "Guest")))))
        for k in range(3):
            emails.append(mapping.email_from_domain(EmailMessage(
                subject=f"Quote {1000 + 10 * i + k} for {e.name.split()[0]}", body="Please find the quote.",
                from_address=f"buyer{i}{k}@northwind.example", to=(e.email,), sent_at=now - timedelta(days=k + 1),
                incoming=True, internet_message_id=f"<quote-{i}-{k}@northwind.example>"), owner=e.id))
    for entity, rows in (("Task", tasks), ("Event", events), ("Email", emails)):
        for row in rows:
            await d.erp_put(entity, row)


async def seed_mailboxes(d: Demo) -> None:
    for e in d.employees:
        resp = await d.graph.post("/_sim/users", json={"userPrincipalName": e.email, "displayName": e.name})
        resp.raise_for_status()


async def seed_mailbox_items(d: Demo) -> None:
    """Items employees made in Outlook / To Do (after initialize created the ERP folders)."""
    rng, now = d.rng, datetime.now(UTC).replace(microsecond=0)
    for i, e in enumerate(d.employees):
        for k in range(5):
            first, last, email = _person(rng, 9000 + 10 * i + k)
            await d.graph_post(f"users/{e.email}/contacts", {
                "givenName": first, "surname": last, "companyName": rng.choice(COMPANIES),
                "emailAddresses": [{"address": email, "name": f"{first} {last}"}]})
        folder = d.folders[e.email]["email"]
        for k in range(2):
            await d.graph_post(f"users/{e.email}/mailFolders/{folder}/messages", {
                "subject": f"Re: order {500 + 10 * i + k}", "body": {"contentType": "text", "content": "Confirmed."},
                "from": {"emailAddress": {"address": f"client{i}{k}@tailspin.example"}},
                "toRecipients": [{"emailAddress": {"address": e.email}}]})
        task_list = d.folders[e.email]["task"]
        for k, status in enumerate(TODO_STATUSES):
            await d.graph_post(f"users/{e.email}/todo/lists/{task_list}/tasks", {
                "title": f"{e.name.split()[0]} to do: {status}", "status": status, "categories": [CATEGORY],
                "importance": "high" if k % 2 else "normal"})
        await d.graph_post(f"users/{e.email}/todo/lists/{task_list}/tasks", {"title": "Private errand"})
        start = (now + timedelta(days=3)).replace(hour=14, minute=0, second=0)
        await d.graph_post(f"users/{e.email}/events", {
            "subject": f"{e.name.split()[0]} site visit", "categories": [CATEGORY],
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "attendees": [{"emailAddress": {"address": "site@woodgrove.example", "name": "Site"},
                           "type": "required"}]})


async def configure(d: Demo) -> None:
    await d.call_api("POST", "/policies", {
        "name": "sales", "description": "Sales team", "category": {"name": CATEGORY, "color": "preset7"},
        "conflict_resolution": "last_updated", "contacts": {"sync_without_category": True}})
    await d.call_api("POST", "/servers", {
        "name": "contoso", "default_policy": "sales", "client_id": "00000000-0000-0000-0000-00000000d3m0",
        "tenant_id": "contoso.test", "graph_base_url": f"{d.stack.graph.base_url}/v1.0",
        "schedule": "* * * * * *", "accounts_in_batch": 2})
    for e in d.employees:
        await d.call_api("PUT", f"/servers/contoso/mailboxes/{e.email}",
                         {"employee_id": e.id, "employee_name": e.name})
    init = await d.call_api("POST", "/servers/contoso/initialize", {})
    for row in init["mailboxes"]:
        if not row["ok"]:
            raise RuntimeError(f"initialize {row['mailbox']}: {row.get('message')}")
        d.folders[row["mailbox"]] = row["containers"]


# ---------------------------------------------------------------- syncing


async def scheduled_sync(d: Demo, progress: Progress, label: str) -> None:
    """Fire the schedule timer through the host, then wait until every mailbox is idle again.

    Pushes of our own writes queue follow-up runs (coalesced to one per mailbox); a mailbox counts
    as done when its last run started after the trigger and nothing is queued or running.
    """
    await asyncio.sleep(1.1)  # the server schedule fires every second: make sure a slot passed
    triggered = datetime.now(UTC) - timedelta(seconds=1)
    resp = await d.api.post(f"{d.stack.host.base_url}/admin/functions/schedule", json={})
    resp.raise_for_status()
    task = progress.add_task(label, total=len(d.employees))
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 900
    quiet = 0
    while quiet < 2:  # two idle polls in a row: no follow-up run is on its way
        if time.monotonic() > deadline:
            raise RuntimeError(f"{label}: timed out; finished: {sorted(done)}")
        await asyncio.sleep(0.4)
        idle = True
        for e in d.employees:
            status = await d.call_api("GET", f"/mailboxes/{e.email}/status")
            run = status["last_run"] or {}
            started = datetime.fromisoformat(run["started_at"]) if run.get("started_at") else None
            if (run.get("state") in ("queued", "running") or status["pending"] is not None
                    or started is None or started < triggered):
                idle = False
                continue
            if e.email not in done:
                progress.advance(task)
            done[e.email] = run
        quiet = quiet + 1 if idle else 0
    for email, run in sorted(done.items()):
        d.check(f"{label}: {email} last run {run['state']}", run["state"] == "succeeded", run["message"])
    d.snapshots[label] = await snapshot(d)


# ---------------------------------------------------------------- edits


@dataclasses.dataclass
class Edits:
    erp_edited: str = ""
    mailbox_edited: str = ""
    conflict: str = ""
    deleted_in_mailbox: str = ""
    deleted_erp_task: str = ""
    new_mailbox_contact: str = ""


async def _contact_pairs(d: Demo, e: Employee) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    erp = {(c.get("Email") or {}).get("value", "").lower(): c for c in await d.erp_list("Contact")
           if (c.get("Owner") or {}).get("value") == e.id}
    pairs = []
    for item in await d.graph_all(f"users/{e.email}/contacts?$top=100"):
        addr = (item.get("emailAddresses") or [{}])[0].get("address", "").lower()
        if addr in erp:
            pairs.append((erp[addr], item))
    return sorted(pairs, key=lambda p: (p[0].get("Email") or {}).get("value", ""))


async def make_edits(d: Demo) -> Edits:
    ann, ben, cara = d.employees[0], d.employees[1], d.employees[2]
    pairs = await _contact_pairs(d, ann)
    edits = Edits()
    (erp0, _), (_, mb1), (erp2, mb2), (_, mb3) = pairs[0], pairs[1], pairs[2], pairs[3]
    edits.erp_edited = erp0["Email"]["value"]
    await d.erp_put("Contact", {"id": erp0["id"], "JobTitle": v("Chief Buyer")})
    edits.mailbox_edited = mb1["emailAddresses"][0]["address"]
    (await d.graph.patch(f"/v1.0/users/{ann.email}/contacts/{mb1['id']}", json={"jobTitle": "Head of IT"})
     ).raise_for_status()
    # conflict: both sides change the same contact; the mailbox edit is the newer one (last_updated)
    edits.conflict = erp2["Email"]["value"]
    await d.erp_put("Contact", {"id": erp2["id"], "JobTitle": v("Changed in the ERP")})
    await asyncio.sleep(1.1)
    (await d.graph.patch(f"/v1.0/users/{ann.email}/contacts/{mb2['id']}", json={"jobTitle": "Changed in Outlook"})
     ).raise_for_status()
    edits.deleted_in_mailbox = mb3["emailAddresses"][0]["address"]
    (await d.graph.delete(f"/v1.0/users/{ann.email}/contacts/{mb3['id']}")).raise_for_status()
    ben_task = next(t for t in await d.erp_list("Task") if (t.get("Owner") or {}).get("value") == ben.id
                    and (t.get("Status") or {}).get("value") == "Open")
    edits.deleted_erp_task = ben_task["Summary"]["value"]
    (await d.erp.delete(f"{ENDPOINT}/Task/{ben_task['id']}")).raise_for_status()
    edits.new_mailbox_contact = f"new.prospect@{DOMAIN}"
    await d.graph_post(f"users/{cara.email}/contacts", {
        "givenName": "New", "surname": "Prospect", "emailAddresses": [{"address": edits.new_mailbox_contact}]})
    return edits


# ---------------------------------------------------------------- verification


def _addr(item: dict[str, Any]) -> str:
    return str((item.get("emailAddresses") or [{}])[0].get("address", "")).lower()


async def verify(d: Demo, edits: Edits) -> None:
    erp_contacts = await d.erp_list("Contact")
    erp_tasks = await d.erp_list("Task")
    for e in d.employees:
        owned = {(c.get("Email") or {}).get("value", "").lower() for c in erp_contacts
                 if (c.get("Owner") or {}).get("value") == e.id}
        outlook = {_addr(c) for c in await d.graph_all(f"users/{e.email}/contacts?$top=100")}
        d.check(f"{e.email}: contacts equal on both sides ({len(owned)})", owned == outlook,
                f"only ERP: {sorted(owned - outlook)[:3]} only Outlook: {sorted(outlook - owned)[:3]}")
        todo = await d.graph_all(f"users/{e.email}/todo/lists/{d.folders[e.email]['task']}/tasks?$top=100")
        categorized = {t["title"] for t in todo if CATEGORY in (t.get("categories") or [])
                       and t.get("status") != "deferred"}  # deferred has no ERP status: not synced
        syncable = {t["Summary"]["value"] for t in erp_tasks if (t.get("Owner") or {}).get("value") == e.id
                    and mapping.task_status_to_domain((t.get("Status") or {}).get("value")) is not None}
        d.check(f"{e.email}: tasks equal on both sides ({len(syncable)})", categorized == syncable,
                f"only ERP: {sorted(syncable - categorized)[:3]} only To Do: {sorted(categorized - syncable)[:3]}")
        erp_drafts = {t["Summary"]["value"] for t in erp_tasks if (t.get("Owner") or {}).get("value") == e.id
                      and (t.get("Status") or {}).get("value") in ("Draft", "Rejected")}
        d.check(f"{e.email}: Draft/Rejected tasks stay in the ERP", not (erp_drafts & {t["title"] for t in todo}))
    ann = d.employees[0]
    by_addr = {c["Email"]["value"].lower(): c for c in erp_contacts if c.get("Email")}
    outlook = {_addr(c): c for c in await d.graph_all(f"users/{ann.email}/contacts?$top=100")}
    d.check("ERP edit reached Outlook", outlook.get(edits.erp_edited.lower(), {}).get("jobTitle") == "Chief Buyer")
    d.check("Outlook edit reached the ERP",
            (by_addr.get(edits.mailbox_edited.lower(), {}).get("JobTitle") or {}).get("value") == "Head of IT")
    both = (outlook.get(edits.conflict.lower(), {}).get("jobTitle"),
            (by_addr.get(edits.conflict.lower(), {}).get("JobTitle") or {}).get("value"))
    d.check("conflict resolved to the newer edit on both sides", both == ("Changed in Outlook",) * 2, str(both))
    d.check("contact deleted in Outlook is gone from the ERP", edits.deleted_in_mailbox.lower() not in by_addr)
    ben = d.employees[1]
    todo = await d.graph_all(f"users/{ben.email}/todo/lists/{d.folders[ben.email]['task']}/tasks?$top=100")
    d.check("task deleted in the ERP is gone from To Do", edits.deleted_erp_task not in {t["title"] for t in todo})
    d.check("new Outlook contact reached the ERP", edits.new_mailbox_contact in by_addr)
    mails = await d.erp_list("Email")
    subjects = {(m.get("Subject") or {}).get("value") for m in mails}
    d.check("mail filed in the ERP folder reached the ERP", all(
        f"Re: order {500 + 10 * i + k}" in subjects for i in range(len(d.employees)) for k in range(2)))
    outlook_subjects = set()
    for e in d.employees:
        outlook_subjects |= {m.get("subject") for m in await d.graph_all(f"users/{e.email}/messages?$top=100")}
    d.check("ERP e-mail activities reached the mailboxes", all(
        f"Quote {1000 + 10 * i + k} for {e.name.split()[0]}" in outlook_subjects
        for i, e in enumerate(d.employees) for k in range(3)))
    events = await d.erp_list("Event", expand="Attendees")
    d.check("appointments made in Outlook reached the ERP", all(
        any((x.get("Summary") or {}).get("value") == f"{e.name.split()[0]} site visit" for x in events)
        for e in d.employees))
    for e in d.employees:
        cal = {x.get("subject"): x for x in await d.graph_all(f"users/{e.email}/events?$top=100")}
        mine = {(x.get("Summary") or {}).get("value") for x in events if any(
            (a.get("Email") or {}).get("value", "").lower() == e.email and
            (a.get("Comment") or {}).get("value") == mapping.ORGANIZER_COMMENT for a in x.get("Attendees") or [])}
        d.check(f"{e.email}: ERP events they organize are in their calendar ({len(mine)})", mine <= set(cal),
                f"missing {sorted(str(m) for m in mine - set(cal))[:3]}")
        invited = [cal[m] for m in mine if m in cal and "meets customer" in str(m)]
        d.check(f"{e.email}: those appointments carry the ERP attendees",
                all(len(x.get("attendees") or []) >= 2 for x in invited))


# ---------------------------------------------------------------- snapshots


async def snapshot(d: Demo) -> dict[tuple[str, str], int]:
    """How many records each side holds, per type (read through the simulators' own APIs)."""
    out: dict[tuple[str, str], int] = {}
    out[("contact", "ERP")] = len(await d.erp_list("Contact"))
    out[("email", "ERP")] = len(await d.erp_list("Email"))
    out[("task", "ERP")] = len(await d.erp_list("Task"))
    out[("event", "ERP")] = len(await d.erp_list("Event"))
    counts = {"contact": 0, "email": 0, "task": 0, "event": 0}
    for e in d.employees:
        counts["contact"] += len(await d.graph_all(f"users/{e.email}/contacts?$top=100"))
        counts["email"] += len(await d.graph_all(f"users/{e.email}/messages?$top=100"))
        task_list = d.folders.get(e.email, {}).get("task")
        if task_list:
            counts["task"] += len(await d.graph_all(f"users/{e.email}/todo/lists/{task_list}/tasks?$top=100"))
        counts["event"] += len(await d.graph_all(f"users/{e.email}/events?$top=100"))
    for rtype, count in counts.items():
        out[(rtype, "Outlook")] = count
    return out


# ---------------------------------------------------------------- report


def report(console: Console, d: Demo) -> None:
    phases = list(d.snapshots)
    table = Table(title="What moved: records on each side after each phase (read from the simulators)")
    for col in ("type", "side", *phases):
        table.add_column(col, justify="left" if col in ("type", "side") else "right")
    for key in d.snapshots[phases[0]]:
        values, previous = [], None
        for phase in phases:
            now = d.snapshots[phase][key]
            delta = "" if previous is None or now == previous else f" ({now - previous:+d})"
            values.append(f"{now}{delta}")
            previous = now
        table.add_row(key[0], key[1], *values)
    console.print(table)
    checks = Table(title="Convergence checks (read back from both simulators)")
    checks.add_column("check")
    checks.add_column("result")
    for name, ok, detail in d.checks:
        checks.add_row(name, "[green]ok[/green]" if ok else f"[red]FAILED[/red] {detail}")
    console.print(checks)


async def run_demo(employees: int, contacts: int, console: Console) -> int:
    people = [Employee(f"EP{n:08d}", f"{FIRST[n - 1].lower()}@{DOMAIN}", f"{FIRST[n - 1]} {LAST[n - 1]}")
              for n in range(1, employees + 1)]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        boot = progress.add_task("starting Azurite, simulators and the Functions host", total=1)
        async with running_stack(port=free_port(), graph_port=free_port(), erp_port=free_port(),
                                 timers=False) as stack:
            progress.advance(boot)
            async with httpx.AsyncClient(base_url=stack.api, headers={"x-functions-key": stack.key},
                                         timeout=60) as api, \
                    httpx.AsyncClient(base_url=stack.graph.base_url, timeout=60,
                                      headers={"Authorization": "Bearer demo"}) as graph, \
                    httpx.AsyncClient(base_url=stack.erp.base_url, timeout=60) as erp:
                login = await erp.post("/entity/auth/login",
                                       json={"name": "admin", "password": "setup", "tenant": "Company"})
                login.raise_for_status()
                d = Demo(stack, api, graph, erp, people, random.Random(4711), contacts)
                steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                    ("seeding Microsoft 365 users", lambda: seed_mailboxes(d)),
                    (f"seeding the ERP ({employees * contacts} contacts, tasks, events, mail)", lambda: seed_erp(d)),
                    ("configuring policy, server and mailboxes via the admin API", lambda: configure(d)),
                    ("seeding Outlook contacts, mail, To Do tasks and appointments",
                     lambda: seed_mailbox_items(d)),
                ]
                for label, step in steps:
                    task = progress.add_task(label, total=1)
                    await step()
                    progress.advance(task)
                d.snapshots["seeded"] = await snapshot(d)
                await scheduled_sync(d, progress, "sync 1 (initial)")
                task = progress.add_task("editing both sides (incl. a conflict and deletes)", total=1)
                edits = await make_edits(d)
                progress.advance(task)
                await asyncio.sleep(1.5)  # ERP push notifications of the deletes reach the host
                await scheduled_sync(d, progress, "sync 2 (after edits)")
                await scheduled_sync(d, progress, "sync 3 (converged)")
                before, after = d.snapshots["sync 2 (after edits)"], d.snapshots["sync 3 (converged)"]
                changed = {f"{k[0]}/{k[1]}": after[k] - before[k] for k in after if after[k] != before[k]}
                d.check("a converged run creates or deletes nothing", not changed, str(changed))
                task = progress.add_task("verifying both simulators", total=1)
                await verify(d, edits)
                progress.advance(task)
                await erp.post("/entity/auth/logout")
    report(console, d)
    failed = [name for name, ok, _ in d.checks if not ok]
    if failed:
        console.print(f"[red]{len(failed)} check(s) failed[/red]")
        return 1
    console.print(f"[green]all {len(d.checks)} checks passed[/green]")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devhost.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=4, choices=range(3, 27), metavar="3..26")
    parser.add_argument("--contacts", type=int, default=60, help="ERP contacts per employee")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(asyncio.run(run_demo(args.employees, args.contacts, Console())))


if __name__ == "__main__":
    main()
