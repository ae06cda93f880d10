"""Failures the gateway rides out against the simulator: 5xx and dropped connections (kiota's
RetryHandler), per-item 429 inside a 200 ``$batch`` (resent after Retry-After), 410 on delta."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from kiota_http.middleware.options import RetryHandlerOption

from devhost.services import Simulator
from shared.domain.records import Contact, EmailMessage, RecordType
from shared.errors import ConcurrencyConflict, RemoteError, SyncStateLost
from shared.graph.gateway import GraphMailboxGateway
from shared.ports import MailboxItem, MailboxWrite, WriteKind
from tests.graph.simulator import admin, fresh, graph_simulator

MAILBOX = "res@contoso.test"


@pytest.fixture
def sim() -> Simulator:
    return graph_simulator()


@pytest.fixture
async def gateway(sim: Simulator) -> AsyncIterator[GraphMailboxGateway]:
    fresh(sim)
    gw = GraphMailboxGateway.create(None, f"{sim.base_url}/v1.0", retry=RetryHandlerOption(delay=0, max_retries=3))
    try:
        yield gw
    finally:
        await gw.aclose()


def creates(container: str, n: int) -> list[MailboxWrite]:
    return [MailboxWrite(WriteKind.CREATE, RecordType.CONTACT, container,
                         record=Contact(first_name=f"P{i}", email=f"p{i}@fabrikam.test"), stamp=f"erp-{i}")
            for i in range(n)]


async def listing(gw: GraphMailboxGateway, container: str) -> list[MailboxItem[Any]]:
    page = await gw.list_changes(MAILBOX, RecordType.CONTACT, container, None, 100)
    assert page.complete
    return [e for e in page.items if isinstance(e, MailboxItem)]


async def test_server_errors_and_dropped_connections_are_retried(sim: Simulator,
                                                                  gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    [made] = await gateway.apply(MAILBOX, creates(container, 1))
    assert made.item is not None
    admin(sim, "POST", "/_sim/faults", {"path": "/contacts/", "method": "GET", "status": 503, "count": 1})
    admin(sim, "POST", "/_sim/faults", {"path": "/contacts/", "method": "GET", "drop": True, "count": 1})
    admin(sim, "POST", "/_sim/faults", {"path": "/contacts/", "method": "GET", "status": 500, "count": 1})
    fetched = await gateway.get(MAILBOX, RecordType.CONTACT, container, made.item.id)
    assert fetched is not None and fetched.id == made.item.id
    attempts = [r for r in admin(sim, "GET", "/_sim/requests") if r["method"] == "GET"
                and made.item.id in r["path"]]
    assert len(attempts) == 4


async def test_persistent_failure_surfaces_as_remote_error(sim: Simulator, gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    admin(sim, "POST", "/_sim/faults", {"path": "/contacts$", "method": "GET", "status": 502, "count": 10})
    with pytest.raises(RemoteError) as caught:
        await gateway.find_by_stamp(MAILBOX, RecordType.CONTACT, container, "erp-1")
    assert caught.value.status == 502


async def test_items_throttled_inside_a_batch_are_resent_once_each(sim: Simulator,
                                                                    gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    admin(sim, "POST", "/_sim/faults", {"path": "/contacts$", "method": "POST", "status": 429,
                                        "retry_after": 1, "count": 3})
    results = await gateway.apply(MAILBOX, creates(container, 6))
    assert all(r.ok for r in results), [r.error for r in results]
    names = sorted(i.record.first_name for i in await listing(gateway, container))
    assert names == [f"P{i}" for i in range(6)]
    batched = [r for r in admin(sim, "GET", "/_sim/requests") if r.get("batched") and r["method"] == "POST"]
    assert [r["status"] for r in batched].count(429) == 3
    assert len(batched) == 9
    assert gateway.batches.rounds_retried == 1


async def test_results_keep_write_order_with_mixed_outcomes(gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    first = await gateway.apply(MAILBOX, creates(container, 2))
    a, b = (r.item for r in first)
    assert a is not None and b is not None
    writes = [
        MailboxWrite(WriteKind.DELETE, RecordType.CONTACT, container, item_id=a.id, etag='W/"stale"'),
        MailboxWrite(WriteKind.UPDATE, RecordType.CONTACT, container, record=Contact(first_name="New"),
                     item_id=b.id, etag=b.etag),
        MailboxWrite(WriteKind.UPDATE, RecordType.CONTACT, container, record=None, item_id=None),
        *creates(container, 1),
    ]
    results = await gateway.apply(MAILBOX, writes)
    assert [r.write for r in results] == writes
    assert [r.ok for r in results] == [False, True, False, True]
    assert results[1].item is not None and results[1].item.record.first_name == "New"


async def test_dead_delta_token_is_sync_state_lost(sim: Simulator, gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    await gateway.apply(MAILBOX, creates(container, 1))
    page = await gateway.list_changes(MAILBOX, RecordType.CONTACT, container, None, 10)
    assert page.complete and page.cursor
    admin(sim, "POST", "/_sim/expire-delta", {"mailbox": MAILBOX})
    with pytest.raises(SyncStateLost):
        await gateway.list_changes(MAILBOX, RecordType.CONTACT, container, page.cursor, 10)


async def test_a_post_is_retried_only_when_graph_says_it_was_not_processed(
        sim: Simulator, gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    admin(sim, "POST", "/_sim/faults", {"path": r"\$batch", "method": "POST", "status": 503, "count": 1})
    assert all(r.ok for r in await gateway.apply(MAILBOX, creates(container, 2)))

    admin(sim, "POST", "/_sim/faults", {"path": r"\$batch", "method": "POST", "status": 500, "count": 1})
    failed = await gateway.apply(MAILBOX, creates(container, 2))
    assert [getattr(r.error, "status", None) for r in failed] == [500, 500]  # a 500 may have created them
    assert len(await listing(gateway, container)) == 2


async def test_a_throttled_read_is_retried_after_retry_after(sim: Simulator, gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    admin(sim, "POST", "/_sim/faults", {"path": "/contacts$", "method": "GET", "status": 429, "retry_after": 1,
                                        "count": 1})
    assert await gateway.find_by_stamp(MAILBOX, RecordType.CONTACT, container, "erp-x") is None
    stats = gateway.stats()[MAILBOX]
    assert (stats.throttled, stats.requests) == (1, 4)  # folders list, create, 429, the retry


def created_in_sim(sim: Simulator) -> int:
    """Batched contact creates the simulator served (applied, whether or not the answer came back)."""
    return sum(1 for r in admin(sim, "GET", "/_sim/requests")
               if r.get("batched") and r["method"] == "POST" and r["path"].endswith("/contacts"))


@pytest.mark.parametrize("after", [True, False], ids=["applied then dropped", "dropped before"])
async def test_a_dropped_batch_of_creates_is_settled_within_the_call(
        sim: Simulator, gateway: GraphMailboxGateway, after: bool) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    admin(sim, "POST", "/_sim/faults", {"path": r"\$batch", "method": "POST", "drop": True, "after": after})
    results = await gateway.apply(MAILBOX, creates(container, 4))
    assert all(r.ok and r.item is not None for r in results), [r.error for r in results]
    listed = await listing(gateway, container)
    assert sorted(i.id for i in listed) == sorted(r.item.id for r in results if r.item)
    assert [r.item.stamp for r in results if r.item] == [f"erp-{i}" for i in range(4)]
    assert created_in_sim(sim) == 4  # applied once: the look-ups found them, or the resend made them
    assert gateway.batches.answers_lost == 1


async def test_a_stalled_batch_times_out_and_is_settled_by_stamp(sim: Simulator) -> None:
    fresh(sim)
    gw = GraphMailboxGateway.create(None, f"{sim.base_url}/v1.0", timeout=1.0,
                                    retry=RetryHandlerOption(delay=0, max_retries=3))
    try:
        container = await gw.ensure_container(MAILBOX, RecordType.CONTACT, "R")
        admin(sim, "POST", "/_sim/faults", {"path": r"\$batch", "method": "POST", "delay_ms": 120_000,
                                            "drop": True, "after": True})  # Graph holds the answer 120 s
        results = await gw.apply(MAILBOX, creates(container, 3))
        assert all(r.ok for r in results), [r.error for r in results]
        assert len(await listing(gw, container)) == 3 and created_in_sim(sim) == 3
    finally:
        await gw.aclose()


async def test_a_lost_create_without_a_stamp_is_reported_not_repeated(sim: Simulator,
                                                                      gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    admin(sim, "POST", "/_sim/faults", {"path": r"\$batch", "method": "POST", "drop": True, "after": True})
    unstamped = MailboxWrite(WriteKind.CREATE, RecordType.CONTACT, container, record=Contact(first_name="U"))
    [result] = await gateway.apply(MAILBOX, [unstamped])
    assert isinstance(result.error, RemoteError) and result.error.code == "answerLost", result.error
    assert len(await listing(gateway, container)) == 1 and created_in_sim(sim) == 1


async def test_a_batched_create_answered_504_after_it_landed_is_found_not_repeated(
        sim: Simulator, gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    admin(sim, "POST", "/_sim/faults", {"path": "/contacts$", "method": "POST", "status": 504, "after": True})
    results = await gateway.apply(MAILBOX, creates(container, 2))
    assert all(r.ok for r in results), [r.error for r in results]
    assert len(await listing(gateway, container)) == 2 and created_in_sim(sim) == 2


async def test_a_create_answered_504_is_settled_even_when_its_look_up_is_lost(
        sim: Simulator, gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    admin(sim, "POST", "/_sim/faults", {"path": "/contacts$", "method": "POST", "status": 504})  # not applied
    admin(sim, "POST", "/_sim/faults", {"path": r"\$batch", "method": "POST", "drop": True, "skip": 1,
                                        "count": 2})  # the next two look-ups
    results = await gateway.apply(MAILBOX, creates(container, 2))
    assert all(r.ok for r in results), [r.error for r in results]
    assert len(await listing(gateway, container)) == 2 and created_in_sim(sim) == 3  # the 504 one, resent
    assert gateway.batches.answers_lost == 1


async def test_a_lost_batch_of_reads_is_resent(sim: Simulator, gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    made = [r.item.id for r in await gateway.apply(MAILBOX, creates(container, 3)) if r.item]
    admin(sim, "POST", "/_sim/faults", {"path": r"\$batch", "method": "POST", "drop": True, "count": 2})
    assert await gateway.existing_ids(MAILBOX, RecordType.CONTACT, container, [*made, "gone"]) == set(made)
    assert gateway.batches.answers_lost == 2


async def test_a_lost_send_is_reported_never_sent_twice(sim: Simulator, gateway: GraphMailboxGateway) -> None:
    sent_items = await gateway.ensure_container(MAILBOX, RecordType.EMAIL, "sentitems")
    message = EmailMessage(subject="Your order", body="shipped", from_address=MAILBOX, to=("pat@fabrikam.test",),
                           incoming=False)
    admin(sim, "POST", "/_sim/faults", {"path": r"\$batch", "method": "POST", "drop": True, "after": True})
    [result] = await gateway.apply(MAILBOX, [
        MailboxWrite(WriteKind.SEND, RecordType.EMAIL, sent_items, record=message, stamp="erp-mail")])
    assert isinstance(result.error, RemoteError) and result.error.code == "answerLost", result.error
    sends = [r for r in admin(sim, "GET", "/_sim/requests") if r["path"].endswith("/sendMail")]
    assert len(sends) == 1


@pytest.mark.parametrize(("after", "stale", "ok"), [(True, False, True), (False, True, False)],
                         ids=["landed, then lost: done", "stale etag, dropped before: a conflict"])
async def test_an_update_resent_after_a_lost_answer(sim: Simulator, gateway: GraphMailboxGateway,
                                                    after: bool, stale: bool, ok: bool) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "R")
    [made] = await gateway.apply(MAILBOX, creates(container, 1))
    assert made.item is not None
    admin(sim, "POST", "/_sim/faults", {"path": r"\$batch", "method": "POST", "drop": True, "after": after})
    etag = 'W/"stale"' if stale else made.item.etag
    edited = Contact(first_name="P0", email="p0@fabrikam.test", job_title="Buyer")
    [result] = await gateway.apply(MAILBOX, [MailboxWrite(WriteKind.UPDATE, RecordType.CONTACT, container,
                                                          record=edited, item_id=made.item.id, etag=etag)])
    assert result.ok is ok, result.error
    if ok:
        assert result.item is not None and result.item.record.job_title == "Buyer"
    else:
        assert isinstance(result.error, ConcurrencyConflict)
    [listed] = await listing(gateway, container)
    assert listed.record.job_title == ("Buyer" if ok else "")
