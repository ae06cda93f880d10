"""Acumatica gateway against the simulator: sessions, retries, licence, 422, statuses, incremental listing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from shared.domain.config import ContactFilter
from shared.domain.records import Contact, RecordType, Task, TaskStatus
from shared.erp.acumatica import AcumaticaErpGateway
from shared.erp.session import AcumaticaSession, RequestSlots
from shared.errors import (
    AuthenticationFailed,
    ConcurrencyConflict,
    NotFound,
    RemoteError,
    Throttled,
    ValidationFailed,
)
from shared.ports import ErpItem, ErpScope, ErpWrite, Removed, WriteKind
from tests.erp.harness import CREDENTIALS, admin, plain_client

ALL = ErpScope(employee_id="EP00000001", email="ann@example.com", contact_filter=ContactFilter.ALL)
LOGIN = {"name": "admin", "password": "setup", "tenant": "Company"}


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with plain_client() as c:
        yield c


def gateway(url: str, client: httpx.AsyncClient, **kw: Any) -> AcumaticaErpGateway:
    return AcumaticaErpGateway(url, **{**CREDENTIALS, **kw.pop("credentials", {})}, http_client=client, **kw)


async def logins(url: str) -> int:
    journal = await admin(url, "GET", "requests")
    return sum(1 for j in journal if j["path"] == "/entity/auth/login" and j["status"] == 204)


async def test_one_session_for_concurrent_calls_and_logout(acumatica_url: str, client: httpx.AsyncClient) -> None:
    erp = gateway(acumatica_url, client)
    await asyncio.gather(*(erp.list_ids(RecordType.CONTACT, ALL, None, 10) for _ in range(8)))
    assert erp.session.logins == 1 and await logins(acumatica_url) == 1
    assert (await admin(acumatica_url, "GET", "sessions"))["active"] == 1
    await erp.aclose()
    assert (await admin(acumatica_url, "GET", "sessions"))["active"] == 0


async def test_many_gateways_in_turn_never_exhaust_the_licence(acumatica_url: str,
                                                                client: httpx.AsyncClient) -> None:
    for _ in range(5):  # the licence allows 2 API users
        erp = gateway(acumatica_url, client)
        await erp.list_ids(RecordType.CONTACT, ALL, None, 10)
        await erp.aclose()
    assert (await admin(acumatica_url, "GET", "sessions"))["active"] == 0


async def test_relogin_on_401(acumatica_url: str, client: httpx.AsyncClient) -> None:
    erp = gateway(acumatica_url, client)
    await erp.list_ids(RecordType.CONTACT, ALL, None, 10)
    await admin(acumatica_url, "POST", "faults", {"path": "/Contact$", "status": 401, "count": 1})
    page = await erp.list_ids(RecordType.CONTACT, ALL, None, 10)
    assert page.complete and erp.session.logins == 2
    await erp.aclose()


async def test_429_is_retried_after_retry_after(acumatica_url: str, client: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    erp = gateway(acumatica_url, client, sleep=sleeps)
    await admin(acumatica_url, "POST", "faults", {"path": "/Contact$", "status": 429, "count": 2, "retry_after": 3})
    page = await erp.list_ids(RecordType.CONTACT, ALL, None, 10)
    assert page.complete and sleeps.delays == [3.0, 3.0]
    await admin(acumatica_url, "POST", "faults", {"path": "/Contact$", "status": 429, "count": 9})
    with pytest.raises(Throttled):
        await gateway(acumatica_url, client, sleep=sleeps, max_retries=2).list_ids(RecordType.CONTACT, ALL, None, 1)
    await erp.aclose()


async def test_login_limit_is_waited_out_then_reported(acumatica_url: str, client: httpx.AsyncClient) -> None:
    others = [plain_client(), plain_client()]
    for other in others:
        assert (await other.post(f"{acumatica_url}/entity/auth/login", json=LOGIN)).status_code == 204
    sleeps = Sleeps()
    erp = gateway(acumatica_url, client, sleep=sleeps, max_retries=2, backoff=0.5)
    with pytest.raises(Throttled, match="API Login Limit"):
        await erp.list_ids(RecordType.CONTACT, ALL, None, 10)
    assert sleeps.delays == [0.5, 1.0]
    await others[0].post(f"{acumatica_url}/entity/auth/logout")
    assert (await erp.list_ids(RecordType.CONTACT, ALL, None, 10)).complete
    await erp.aclose()
    for other in others:
        await other.post(f"{acumatica_url}/entity/auth/logout")
        await other.aclose()


async def test_bad_credentials(acumatica_url: str, client: httpx.AsyncClient) -> None:
    erp = gateway(acumatica_url, client, credentials={"password": "wrong"})
    with pytest.raises(AuthenticationFailed, match="credentials"):
        await erp.get(RecordType.CONTACT, "00000000-0000-0000-0000-000000000001")


async def test_invalid_values_fail_only_their_write(acumatica_url: str, client: httpx.AsyncClient) -> None:
    erp = gateway(acumatica_url, client)
    bad, good = await erp.apply([
        ErpWrite(WriteKind.CREATE, RecordType.CONTACT, record=Contact(last_name="X", email="not-an-address")),
        ErpWrite(WriteKind.CREATE, RecordType.CONTACT, record=Contact(last_name="Y"), owner="EP00000002")])
    assert isinstance(bad.error, ValidationFailed) and "Email" in bad.error.errors
    assert good.ok
    [owner] = await erp.apply([ErpWrite(WriteKind.CREATE, RecordType.CONTACT, record=Contact(last_name="Z"),
                                        owner="EP-NOBODY")])
    assert isinstance(owner.error, ValidationFailed) and "Owner" in owner.error.errors
    await erp.aclose()


async def test_approved_task_stays_approved_for_in_progress(acumatica_url: str, client: httpx.AsyncClient) -> None:
    seeded = await admin(acumatica_url, "POST", "seed", {"Task": [
        {"Summary": {"value": "Approve me"}, "Status": {"value": "Approved"}, "Owner": {"value": "EP00000001"}}]})
    task_id = seeded["Task"][0]["id"]
    erp = gateway(acumatica_url, client)
    item = await erp.get(RecordType.TASK, task_id)
    assert item is not None and item.record.status is TaskStatus.IN_PROGRESS
    edited = Task(title="Approve me (edited)", status=TaskStatus.IN_PROGRESS)
    [result] = await erp.apply([ErpWrite(WriteKind.UPDATE, RecordType.TASK, record=edited, item_id=task_id,
                                         version=item.version)])
    assert result.ok
    raw = (await admin(acumatica_url, "GET", "requests"))[-1]
    assert raw["method"] == "PUT" and raw["body"]["Status"] == {"value": "Approved"}
    draft = await admin(acumatica_url, "POST", "seed", {"Task": [
        {"Summary": {"value": "Draft"}, "Status": {"value": "Draft"}, "Owner": {"value": "EP00000001"}}]})
    got = await erp.get(RecordType.TASK, draft["Task"][0]["id"])
    assert got is not None and got.record.status is None  # not synced
    await erp.aclose()


@pytest.mark.parametrize(("overlap", "cap"), [(timedelta(minutes=2), None), (timedelta(0), None),
                                               (timedelta(minutes=2), 60)], ids=["overlap", "no-overlap", "capped"])
async def test_500_contact_changes_listed_across_three_runs(acumatica_url: str, client: httpx.AsyncClient,
                                                            overlap: timedelta, cap: int | None,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    if cap is not None:  # more changes inside the overlap window than the cursor remembers
        monkeypatch.setattr("shared.erp.cursor.MAX_SEEN", cap)
    erp = gateway(acumatica_url, client, overlap=overlap)
    versions: dict[str, str] = {}
    listed: Counter[tuple[str, str]] = Counter()
    changes = 0

    async def seed(records: list[dict[str, Any]]) -> None:
        nonlocal changes
        for stored in (await admin(acumatica_url, "POST", "seed", {"Contact": records}))["Contact"]:
            versions[stored["id"]] = stored["LastModifiedDateTime"]["value"]
            changes += 1

    def new(n: int, start: int) -> list[dict[str, Any]]:
        return [{"LastName": {"value": f"C{start + i}"}, "Owner": {"value": "EP00000001"}} for i in range(n)]

    def edit(ids: list[str], tag: str) -> list[dict[str, Any]]:
        return [{"id": i, "JobTitle": {"value": tag}} for i in ids]

    async def delete(ids: list[str]) -> list[dict[str, Any]]:
        async with plain_client() as user:
            await user.post(f"{acumatica_url}/entity/auth/login", json=LOGIN)
            for item_id in ids:
                response = await user.delete(f"{acumatica_url}/entity/Default/24.200.001/Contact/{item_id}")
                assert response.status_code == 204
                del versions[item_id]
            await user.post(f"{acumatica_url}/entity/auth/logout")
        return []

    async def run(cursor: str | None, during: list[list[dict[str, Any]]]) -> str | None:
        pages = 0
        while True:
            page = await erp.list_changes(RecordType.CONTACT, ALL, cursor, 64)
            pages += 1
            for entry in page.items:
                assert not isinstance(entry, Removed)
                listed[(entry.id, entry.version)] += 1
            cursor = page.cursor
            if during:                     # someone edits the ERP between two pages
                await seed(during.pop(0))
            if pages == 2 and deleting:    # rows before the next page vanish: later rows shift back
                await delete(deleting)
                deleting.clear()
            if page.complete:
                assert not during
                return cursor

    deleting: list[str] = []
    await seed(new(200, 0))
    cursor = await run(None, [new(30, 200), edit(list(versions)[:20], "mid-run-1")])
    await seed(new(50, 230) + edit(list(versions)[100:200], "between-1-2"))
    deleting.extend(list(versions)[:8])
    cursor = await run(cursor, [new(50, 280)])
    await seed(edit(list(versions)[150:200], "between-2-3"))
    cursor = await run(cursor, [])
    assert changes == 500
    assert [pair for pair, n in listed.items() if n > 1] == []                  # nothing listed twice
    assert {(i, v) for i, v in versions.items()} <= set(listed)                  # every latest version listed
    before = sum(listed.values())
    await run(cursor, [])                                                      # a quiet fourth run
    assert sum(listed.values()) == before
    await erp.aclose()


async def test_email_attachments_replaced_on_update(acumatica_url: str, client: httpx.AsyncClient) -> None:
    from shared.domain.records import EmailMessage
    from shared.erp.mapping import attachment_meta
    from shared.ports import AttachmentContent

    def files(*pairs: tuple[str, bytes]) -> tuple[AttachmentContent, ...]:
        return tuple(AttachmentContent(attachment_meta(n, c), c) for n, c in pairs)

    erp = gateway(acumatica_url, client)
    first = files(("a.txt", b"one"), ("b.txt", b"two"))
    email = EmailMessage(subject="S", from_address="x@example.com", attachments=tuple(f.meta for f in first))
    [created] = await erp.apply([ErpWrite(WriteKind.CREATE, RecordType.EMAIL, record=email, files=first)])
    assert created.ok and isinstance(created.item, ErpItem)
    second = files(("b.txt", b"TWO"), ("c.txt", b"three"))
    changed = email.with_fields({"attachments": tuple(f.meta for f in second)})
    [updated] = await erp.apply([ErpWrite(WriteKind.UPDATE, RecordType.EMAIL, record=changed,
                                          item_id=created.item.id, files=second)])
    assert updated.ok
    stored = await erp.read_attachments(RecordType.EMAIL, created.item.id, 1000)
    assert sorted((f.meta.name, f.content) for f in stored) == [("b.txt", b"TWO"), ("c.txt", b"three")]
    got = await erp.get(RecordType.EMAIL, created.item.id)
    assert got is not None and got.record.normalized() == changed.normalized()
    await erp.aclose()


async def test_workgroup_scope_without_workgroups_keeps_own_contacts(acumatica_url: str,
                                                                    client: httpx.AsyncClient) -> None:
    await admin(acumatica_url, "POST", "seed", {"Contact": [
        {"LastName": {"value": "Mine"}, "Owner": {"value": "EP00000001"}, "Workgroup": {"value": "Sales"}},
        {"LastName": {"value": "Theirs"}, "Owner": {"value": "EP00000002"}, "Workgroup": {"value": "Sales"}}]})
    erp = gateway(acumatica_url, client)
    scope = ErpScope(employee_id="EP00000001", email="a@example.com", contact_filter=ContactFilter.WORKGROUP)
    page = await erp.list_changes(RecordType.CONTACT, scope, None, 10)
    assert [i.record.last_name for i in page.items if isinstance(i, ErpItem)] == ["Mine"]
    assert len((await erp.list_ids(RecordType.CONTACT, scope, None, 10)).items) == 1
    await erp.aclose()


async def test_status_change_acumatica_forbids_fails_that_write_only(acumatica_url: str,
                                                                   client: httpx.AsyncClient) -> None:
    erp = gateway(acumatica_url, client)
    [created] = await erp.apply([ErpWrite(WriteKind.CREATE, RecordType.TASK, owner="EP00000001",
                                          record=Task(title="Wait", status=TaskStatus.NOT_STARTED))])
    assert created.ok and created.item is not None
    waiting = Task(title="Wait", status=TaskStatus.WAITING_ON_OTHERS)  # Open -> Pending Approval: not allowed
    [result] = await erp.apply([ErpWrite(WriteKind.UPDATE, RecordType.TASK, record=waiting,
                                         item_id=created.item.id, version=created.item.version)])
    assert isinstance(result.error, ValidationFailed) and "Status" in result.error.errors
    got = await erp.get(RecordType.TASK, created.item.id)
    assert got is not None and got.record.status is TaskStatus.NOT_STARTED and got.version == created.item.version
    await erp.aclose()


async def _journal(url: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = await admin(url, "GET", "requests")
    return entries


async def test_a_contact_update_is_one_conditional_put(acumatica_url: str, client: httpx.AsyncClient) -> None:
    """No read before the write: the PUT's $filter carries the version, so a stale one is a 412."""
    erp = gateway(acumatica_url, client)
    [made] = await erp.apply([ErpWrite(WriteKind.CREATE, RecordType.CONTACT, record=Contact(last_name="Ann"),
                                       owner="EP00000001")])
    assert made.item is not None
    before = len(await _journal(acumatica_url))
    [updated] = await erp.apply([ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=Contact(last_name="Anne"),
                                          item_id=made.item.id, version=made.item.version)])
    assert updated.ok and updated.item is not None and updated.item.record.last_name == "Anne"
    [put] = (await _journal(acumatica_url))[before:]
    assert put["method"] == "PUT" and put["status"] == 200 and "id" not in put["body"]
    query = unquote(put["query"])
    assert f"NoteID eq guid'{made.item.id}' and LastModifiedDateTime eq datetimeoffset'{made.item.version}'" in query
    before = len(await _journal(acumatica_url))
    [stale] = await erp.apply([ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=Contact(last_name="Anna"),
                                        item_id=made.item.id, version=made.item.version)])
    assert isinstance(stale.error, ConcurrencyConflict)
    answers = [(j["method"], j["status"]) for j in (await _journal(acumatica_url))[before:]]
    assert answers == [("PUT", 412), ("GET", 200)]
    got = await erp.get(RecordType.CONTACT, made.item.id)
    assert got is not None and got.record.last_name == "Anne"
    await erp.aclose()


async def test_a_batch_of_writes_runs_together_within_the_request_slots(acumatica_url: str,
                                                                        client: httpx.AsyncClient) -> None:
    slots = RequestSlots(2)
    session = AcumaticaSession(acumatica_url, **CREDENTIALS, http_client=client, slots=slots)
    erp = AcumaticaErpGateway(acumatica_url, **CREDENTIALS, session=session)
    await erp.list_ids(RecordType.CONTACT, ALL, None, 1)                    # logged in
    await admin(acumatica_url, "POST", "licence", {})                       # counters from zero
    await admin(acumatica_url, "POST", "faults", {"path": "/Contact$", "method": "PUT", "status": 200,
                                                  "delay_ms": 300, "count": 6})
    writes = [ErpWrite(WriteKind.CREATE, RecordType.CONTACT, record=Contact(last_name=f"Batch{n}"),
                       owner="EP00000001", origin=f"mbx:b{n}") for n in range(6)]
    results = await erp.apply(writes)
    assert [r.item.record.last_name for r in results if r.item is not None] == [f"Batch{n}" for n in range(6)]
    licence = await admin(acumatica_url, "GET", "licence")
    assert slots.peak == 2 and licence["peak_concurrent"] == 2 and licence["admitted"] == 6
    await session.aclose()


async def test_a_dropped_create_in_a_batch_fails_alone_and_duplicates_nothing(acumatica_url: str,
                                                                               client: httpx.AsyncClient) -> None:
    erp = gateway(acumatica_url, client)
    await admin(acumatica_url, "POST", "faults", {"path": "/Contact$", "method": "PUT", "drop": True, "count": 1})
    writes = [ErpWrite(WriteKind.CREATE, RecordType.CONTACT, record=Contact(last_name=f"Drop{n}"),
                       owner="EP00000001", origin=f"mbx:d{n}") for n in range(5)]
    results = await erp.apply(writes)
    failed = [r for r in results if not r.ok]
    assert len(failed) == 1 and isinstance(failed[0].error, RemoteError)   # a create is never resent blindly
    for result in results:
        found = await erp.find_by_origin(RecordType.CONTACT, result.write.origin or "")
        assert (found is None) == (result in failed)
    page = await erp.list_ids(RecordType.CONTACT, ALL, None, 100)
    assert len(page.items) == 4
    await erp.aclose()


async def test_batched_reads_stay_under_the_query_string_limit(acumatica_url: str,
                                                               client: httpx.AsyncClient) -> None:
    erp = gateway(acumatica_url, client)
    made = await erp.apply([ErpWrite(WriteKind.CREATE, RecordType.CONTACT, record=Contact(last_name=f"Q{n}",
                                     email=f"a-rather-long-address-{n}@subsidiary.example.com"), owner="EP00000001")
                            for n in range(60)])
    ids = [r.item.id for r in made if r.item is not None]
    before = len(await _journal(acumatica_url))
    assert len(await erp.get_many(RecordType.CONTACT, ids)) == 60
    assert len(await erp.find_contacts_by_email([f"a-rather-long-address-{n}@subsidiary.example.com"
                                                 for n in range(60)])) == 60
    assert await erp.existing_ids(RecordType.CONTACT, ALL, ids) == set(ids)
    reads = (await _journal(acumatica_url))[before:]
    assert all(j["status"] == 200 for j in reads)
    assert len(reads) == 3 + 3 + 3                  # 25 GUIDs or 26 addresses per query
    long_filter = " or ".join(f"NoteID eq guid'{i}'" for i in ids[:40])
    with pytest.raises(NotFound, match="query string is too long"):
        await erp._list(RecordType.CONTACT, {"$filter": long_filter})
    await erp.aclose()
