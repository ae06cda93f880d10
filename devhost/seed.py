"""``make serve SEED=demo``: the demo company in the simulators, and nothing configured in exsync.

The employees of ``devhost.demo`` become Microsoft 365 users (Graph simulator) and ERP employees
with their contacts, tasks, events and mail (Acumatica simulator), so a newcomer can follow the
first sync of docs/deploy.md against the local stack: create a server, add mailboxes, initialize,
doctor, sync.
"""

from __future__ import annotations

import random

import httpx

from devhost.demo import DOMAIN, FIRST, LAST, Demo, Employee, seed_erp, seed_mailboxes
from devhost.serve import Stack

DEMO_EMPLOYEES = 4
DEMO_CONTACTS = 25


def demo_employees(count: int = DEMO_EMPLOYEES) -> list[Employee]:
    return [Employee(f"EP{n:08d}", f"{FIRST[n - 1].lower()}@{DOMAIN}", f"{FIRST[n - 1]} {LAST[n - 1]}")
            for n in range(1, count + 1)]


async def seed_demo(stack: Stack, *, employees: int = DEMO_EMPLOYEES,
                    contacts: int = DEMO_CONTACTS) -> list[Employee]:
    """Create the demo company's users and ERP data through the simulators' own APIs."""
    people = demo_employees(employees)
    async with httpx.AsyncClient(base_url=stack.graph.base_url, timeout=60,
                                 headers={"Authorization": "Bearer seed"}) as graph, \
            httpx.AsyncClient(base_url=stack.erp.base_url, timeout=60) as erp:
        login = await erp.post("/entity/auth/login", json={"name": "admin", "password": "setup", "tenant": "Company"})
        login.raise_for_status()
        try:
            demo = Demo(stack, graph, graph, erp, people, random.Random(4711), contacts)
            await seed_mailboxes(demo)
            await seed_erp(demo)
        finally:
            await erp.post("/entity/auth/logout")
    return people


def next_steps(stack: Stack, people: list[Employee]) -> list[str]:
    """The commands of the first sync for the seeded company (docs/deploy.md, step 7)."""
    first = people[0]
    lines = [f"seeded      {len(people)} users and ERP employees: "
             + ", ".join(f"{p.email} ({p.id})" for p in people),
             "next        export EXSYNC_API_URL=" + stack.api + f" EXSYNC_FUNCTION_KEY={stack.key}",
             f"            exsync servers put local - <<< '{{\"name\": \"local\", \"graph_base_url\": "
             f"\"{stack.graph.base_url}/v1.0\"}}'"]
    lines += [f"            exsync mailboxes put local {p.email} --employee-id {p.id} --name \"{p.name}\""
              for p in people]
    lines += ["            exsync servers initialize local", "            exsync doctor",
              f"            exsync sync {first.email}", "            exsync status"]
    return lines


def print_next_steps(stack: Stack, people: list[Employee]) -> None:
    for line in next_steps(stack, people):
        print(line)
