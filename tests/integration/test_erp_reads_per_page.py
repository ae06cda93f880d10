"""A mailbox delta page makes its ERP reads together: counted in the Acumatica simulator's journal
while the engine runs over HTTP (Graph simulator, Acumatica simulator, Azurite), the ``world`` of
:mod:`tests.integration.test_engine_http`."""
# ruff: noqa: F811  (the imported ``world`` fixture is every test's parameter)

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from shared.domain.records import Contact
from shared.domain.status import RunState
from shared.ports import MailboxWrite, WriteKind
from tests.erp.conftest import acumatica_sim  # noqa: F401  (session fixture)
from tests.erp.harness import admin
from tests.integration.test_engine_http import EMPLOYEE, MAILBOX, C, World, world, writes  # noqa: F401


async def _erp_requests(world: World, since: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = await admin(world.erp.base_url, "GET", "requests")
    return [dict(e, query=unquote(e.get("query") or "")) for e in entries[since:]]


async def _mark(world: World) -> int:
    return len(await admin(world.erp.base_url, "GET", "requests"))


async def test_an_import_page_looks_its_addresses_up_in_one_query(world: World) -> None:
    erin = await world.erp.create(C, Contact(first_name="Erin", last_name="Erp", email="erin@fabrikam.test"),
                                  owner=EMPLOYEE)
    await world.user_mailbox_create(C, Contact(first_name="Erin", last_name="Erp", email="ERIN@fabrikam.test"))
    for n in range(7):
        await world.user_mailbox_create(C, Contact(first_name=f"New{n}", last_name="Contact",
                                                   email=f"new{n}@northwind.test"))
    since = await _mark(world)
    summary = await world.run(C)
    assert summary.state is RunState.SUCCEEDED, summary
    requests = await _erp_requests(world, since)
    look_ups = [r for r in requests if r["method"] == "GET" and "Email eq" in r["query"]]
    assert len(look_ups) == 1 and all(f"new{n}@northwind.test" in look_ups[0]["query"] for n in range(7))
    assert not [r for r in requests if r["method"] == "GET" and r["path"].count("/") > 4]  # no GET by id
    assert sum(r["method"] == "PUT" for r in requests) == 7                                  # the 7 new ones
    in_erp = [i for i in await world.erp_items(C)]
    assert sorted(i.record.email.lower() for i in in_erp) == sorted(
        ["erin@fabrikam.test", *(f"new{n}@northwind.test" for n in range(7))])
    link = await world.state.get_link_by_erp(MAILBOX, C, erin)
    assert link is not None                                  # merged by e-mail, not imported twice
    assert len(await world.mailbox_items(C)) == 8


async def test_changed_mailbox_items_of_a_page_read_the_erp_once(world: World) -> None:
    for n in range(6):
        await world.erp.create(C, Contact(first_name=f"Erp{n}", last_name="Contact", email=f"erp{n}@fabrikam.test"),
                               owner=EMPLOYEE)
    assert (await world.run(C)).state is RunState.SUCCEEDED
    items = sorted(await world.mailbox_items(C), key=lambda i: i.record.email)
    container = await world.container(C)
    edits = [MailboxWrite(WriteKind.UPDATE, C, container, record=i.record.with_fields({"job_title": "Director"}),
                          item_id=i.id, etag=i.etag) for i in items[:4]]
    assert all(r.ok for r in await world.mailbox_gateway.apply(MAILBOX, edits))
    since = await _mark(world)
    summary = await world.run(C)
    assert summary.state is RunState.SUCCEEDED and writes(summary) == 4, summary
    requests = await _erp_requests(world, since)
    reads = [r for r in requests if r["method"] == "GET" and "NoteID eq guid" in r["query"]]
    puts = [r for r in requests if r["method"] == "PUT"]
    assert len(reads) == 1 and len(puts) == 4
    assert all("LastModifiedDateTime eq datetimeoffset" in p["query"] for p in puts)  # conditional, no GET first
    assert not [r for r in requests if r["method"] == "GET" and r["path"].count("/") > 4]
    titles = {i.record.email: i.record.job_title for i in await world.erp_items(C)}
    assert sorted(e for e, t in titles.items() if t == "Director") == sorted(i.record.email for i in items[:4])
