"""GraphMailboxGateway: the :class:`shared.ports.MailboxGateway` on Microsoft Graph (msgraph-sdk).

Owns what exsync does in a mailbox: provisioning folders/lists/calendars and master categories,
delta reads paged by hand (the cursor is Graph's nextLink/deltaLink URL, opaque to the engine),
look-ups by ERP stamp and internetMessageId, attachments, and batched writes with per-write
results. Delegates: the HTTP stack (auth, retry, pacing) to :mod:`shared.graph.client`, the wire
format of records to :mod:`shared.graph.mapping`, ``$batch`` to :mod:`shared.graph.batch`,
containers and categories to :mod:`shared.graph.containers`, attachments to
:mod:`shared.graph.attachments`.

Semantics shared with the in-memory twin (``shared.graph.memory``), checked by one contract suite:
- ``ensure_container(EMAIL, "sentitems")`` (and inbox, drafts, deleteditems) is the well-known
  folder; ``None`` is the default folder/list/calendar; other names are created top-level.
- UPDATE with empty ``categories`` keeps the item's categories; a ``stamp`` re-stamps it.
  Messages that are not drafts only take categories and the stamp (Graph forbids body edits).
- SEND and CANCEL answer without an item (sendMail and cancel answer 202 without a body).
- A To Do task is stamped with a linkedResource (no extended properties on tasks).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.method import Method
from kiota_http.middleware.options import RetryHandlerOption
from msgraph.generated.models.contact import Contact as GraphContact
from msgraph.generated.models.contact_collection_response import ContactCollectionResponse
from msgraph.generated.models.event import Event as GraphEvent
from msgraph.generated.models.event_collection_response import EventCollectionResponse
from msgraph.generated.models.linked_resource import LinkedResource
from msgraph.generated.models.linked_resource_collection_response import LinkedResourceCollectionResponse
from msgraph.generated.models.message import Message as GraphMessage
from msgraph.generated.models.message_collection_response import MessageCollectionResponse
from msgraph.generated.models.todo_task import TodoTask
from msgraph.generated.models.todo_task_collection_response import TodoTaskCollectionResponse
from msgraph.generated.users.item.calendar_view.delta.delta_get_response import (
    DeltaGetResponse as EventDelta,
)
from msgraph.generated.users.item.contact_folders.item.contacts.delta.delta_get_response import (
    DeltaGetResponse as ContactDelta,
)
from msgraph.generated.users.item.events.item.cancel.cancel_post_request_body import CancelPostRequestBody
from msgraph.generated.users.item.mail_folders.item.messages.delta.delta_get_response import (
    DeltaGetResponse as MessageDelta,
)
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody
from msgraph.generated.users.item.todo.lists.item.tasks.delta.delta_get_response import (
    DeltaGetResponse as TaskDelta,
)

from shared.domain.records import Contact, EmailMessage, RecordType
from shared.errors import ExsyncError, NotFound, RemoteError, ValidationFailed
from shared.graph import mapping, speedups
from shared.graph.attachments import Attachments
from shared.graph.batch import BatchRunner, Reply, Step
from shared.graph.client import DEFAULT_TIMEOUT, GRAPH_BASE_URL, GraphHttp, encode_query
from shared.graph.containers import Provisioner, required_id
from shared.graph.pacing import MailboxStats, PacingPolicy
from shared.graph.wire import RESOURCES, Resource, action_json, batch_error, from_json, seg, to_json
from shared.ports import AttachmentContent, MailboxItem, MailboxWrite, Page, Removed, WriteKind, WriteResult

logger = logging.getLogger(__name__)

DEFAULT_EVENT_WINDOW = (timedelta(days=90), timedelta(days=365))

_DELTA_RESPONSES: dict[RecordType, Any] = {
    RecordType.CONTACT: ContactDelta, RecordType.EMAIL: MessageDelta,
    RecordType.EVENT: EventDelta, RecordType.TASK: TaskDelta,
}
_COLLECTIONS: dict[RecordType, Any] = {
    RecordType.CONTACT: ContactCollectionResponse, RecordType.EMAIL: MessageCollectionResponse,
    RecordType.EVENT: EventCollectionResponse, RecordType.TASK: TodoTaskCollectionResponse,
}


class GraphMailboxGateway:
    """MailboxGateway over msgraph-sdk; see the module docstring."""

    def __init__(self, http: GraphHttp, *, update_batch_size: int = 20, max_attachment_kb: int = 10240,
                 event_window: tuple[timedelta, timedelta] = DEFAULT_EVENT_WINDOW) -> None:
        if update_batch_size < 1:
            raise ValueError("update_batch_size: expected at least 1")
        if max_attachment_kb < 0:
            raise ValueError("max_attachment_kb: expected 0 or more")
        self.http = http
        self.batches = BatchRunner(http, size=update_batch_size)
        self.attachments = Attachments(http, max_attachment_kb * 1024)
        self.provisioner = Provisioner(http)
        self.event_window = event_window

    @classmethod
    def create(cls, credential: AsyncTokenCredential | None, base_url: str = GRAPH_BASE_URL, *,
               update_batch_size: int = 20, max_attachment_kb: int = 10240,
               http_client: httpx.AsyncClient | None = None, pacing: PacingPolicy | None = None,
               retry: RetryHandlerOption | None = None, timeout: float = DEFAULT_TIMEOUT,
               event_window: tuple[timedelta, timedelta] = DEFAULT_EVENT_WINDOW) -> GraphMailboxGateway:
        """A gateway for ``base_url`` (real Graph by default; the simulator in tests).

        ``credential`` None uses a static token (simulator only). ``pacing`` defaults to Graph's
        per-mailbox limits; ``retry`` tunes kiota's RetryHandler (429/5xx/network failures);
        ``timeout`` is how long one request may wait for Graph's answer (seconds).
        """
        http = GraphHttp(credential, base_url, pacing=pacing, retry=retry, http_client=http_client, timeout=timeout)
        return cls(http, update_batch_size=update_batch_size, max_attachment_kb=max_attachment_kb,
                   event_window=event_window)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> GraphMailboxGateway:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.aclose()

    def stats(self) -> dict[str, MailboxStats]:
        """Requests, batched cost, 429s and pacing waits per mailbox since start."""
        return self.http.pacer.stats()

    # ------------------------------------------------------------------ provisioning

    async def ensure_container(self, mailbox: str, record_type: RecordType, name: str | None) -> str:
        return await self.provisioner.ensure_container(mailbox, record_type, name)

    async def ensure_category(self, mailbox: str, name: str, color: str) -> None:
        await self.provisioner.ensure_category(mailbox, name, color)

    # ------------------------------------------------------------------ reads

    async def list_changes(self, mailbox: str, record_type: RecordType, container: str,
                           cursor: str | None, page_size: int, *, stamps: bool = True) -> Page[MailboxItem[Any]]:
        url = cursor or self._initial_delta(mailbox, record_type, container)
        info = self.http.request(Method.GET, url, mailbox, prefer=(f"odata.maxpagesize={max(1, page_size)}",))
        page = await self.http.send(info, _DELTA_RESPONSES[record_type])
        if page is None:
            raise RemoteError("Graph delta answered without a body")
        entries: list[MailboxItem[Any] | Removed] = []
        removed_events: list[str] = []
        for model in page.value or ():
            if mapping.is_removed(model):
                if record_type is RecordType.EVENT and model.id:
                    removed_events.append(model.id)
                elif model.id:
                    entries.append(Removed(model.id))
            else:
                entries.append(mapping.item_from_graph(record_type, model, mailbox))
        entries += await self._event_removals(mailbox, container, removed_events)
        if stamps:
            entries = await self._listing_stamps(mailbox, record_type, container, entries)
        elif record_type is not RecordType.EMAIL:  # only the message delta carries stamps ($expand)
            entries = [dataclasses.replace(e, stamp_known=False) if isinstance(e, MailboxItem) and e.stamp is None
                       else e for e in entries]
        if page.odata_next_link:
            return Page(tuple(entries), page.odata_next_link, complete=False)
        if page.odata_delta_link:
            return Page(tuple(entries), page.odata_delta_link, complete=True)
        raise RemoteError("Graph delta page has neither @odata.nextLink nor @odata.deltaLink")

    async def _listing_stamps(self, mailbox: str, record_type: RecordType, container: str,
                              entries: list[MailboxItem[Any] | Removed]) -> list[MailboxItem[Any] | Removed]:
        """Delta answers carry no stamps (calendarView/delta and To Do take no $expand): read them."""
        unstamped = [e for e in entries if isinstance(e, MailboxItem) and e.stamp is None]
        if not unstamped:
            return entries
        filled = {item.id: item for item in await self._with_stamps(mailbox, record_type, container, unstamped)}
        return [filled.get(e.id, e) if isinstance(e, MailboxItem) else e for e in entries]

    async def fill_stamps(self, mailbox: str, record_type: RecordType, container: str,
                          items: Sequence[MailboxItem[Any]]) -> list[MailboxItem[Any]]:
        unknown = [item for item in items if not item.stamp_known]
        filled = {item.id: item for item in await self._with_stamps(mailbox, record_type, container, unknown)}
        return [dataclasses.replace(filled.get(item.id, item), stamp_known=True) for item in items]

    def _initial_delta(self, mailbox: str, record_type: RecordType, container: str) -> str:
        resource = RESOURCES[record_type]
        if record_type is RecordType.EVENT:
            now = datetime.now(UTC).replace(microsecond=0)
            start = (now - self.event_window[0]).strftime("%Y-%m-%dT%H:%M:%SZ")
            end = (now + self.event_window[1]).strftime("%Y-%m-%dT%H:%M:%SZ")
            base = f"{resource.containers(mailbox)}/{seg(container)}/calendarView/delta"
            return self.http.url(f"{base}?startDateTime={start}&endDateTime={end}")
        delta = self.http.url(f"{resource.collection(mailbox, container)}/delta")
        if record_type is RecordType.EMAIL:  # message delta documents $expand: stamps come along
            return f"{delta}?$expand={encode_query(mapping.STAMP_EXPAND)}"
        return delta

    async def _event_removals(self, mailbox: str, container: str,
                              ids: list[str]) -> list[MailboxItem[Any] | Removed]:
        """calendarView/delta reports events leaving the window as removed: keep those that exist."""
        models = await self._fetch_many(mailbox, RecordType.EVENT, container, ids)
        return [Removed(item_id) if models.get(item_id) is None
                else mapping.item_from_graph(RecordType.EVENT, models[item_id], mailbox) for item_id in ids]

    async def get(self, mailbox: str, record_type: RecordType, container: str,
                  item_id: str) -> MailboxItem[Any] | None:
        resource = RESOURCES[record_type]
        info = self.http.request(Method.GET, resource.item_in(mailbox, container, item_id), mailbox,
                                 query={"$expand": _expand(resource)})
        try:
            model = await self.http.send(info, resource.model)
        except NotFound:
            return None
        if model is None:
            return None
        if isinstance(model, GraphContact | GraphMessage) and model.parent_folder_id \
                and model.parent_folder_id != container:
            return None
        return mapping.item_from_graph(record_type, model, mailbox)

    async def existing_ids(self, mailbox: str, record_type: RecordType, container: str,
                           ids: Sequence[str]) -> set[str]:
        """One batched ``GET …?$select=id`` per 20 ids under the container; 404 means gone, an item
        whose parentFolderId names another folder was moved away (both are missing)."""
        if not ids:
            return set()
        resource = RESOURCES[record_type]
        foldered = record_type in (RecordType.CONTACT, RecordType.EMAIL)
        query = "?$select=" + ("id,parentFolderId" if foldered else "id")
        wanted = list(dict.fromkeys(ids))
        steps = [Step("GET", resource.item_in(mailbox, container, item_id) + query) for item_id in wanted]
        replies = await self.batches.run(mailbox, steps)
        found: set[str] = set()
        for item_id, reply in zip(wanted, replies, strict=True):
            if reply.status == 404:
                continue
            if not reply.ok or not isinstance(reply.body, dict):
                raise batch_error(reply.status, reply.body, reply.headers)
            folder = reply.body.get("parentFolderId")
            if not foldered or not folder or folder == container:
                found.add(item_id)
        return found

    async def find_by_stamp(self, mailbox: str, record_type: RecordType, container: str,
                            stamp: str) -> MailboxItem[Any] | None:
        resource = RESOURCES[record_type]
        path = resource.collection(mailbox, container)
        if not resource.stamped_by_property:
            async for task in self.http.pages(mailbox, path, TodoTaskCollectionResponse,
                                          query={"$expand": "linkedResources"}):
                if mapping.read_stamp(task) == stamp:
                    return mapping.item_from_graph(record_type, task, mailbox)
            return None
        info = self.http.request(Method.GET, path, mailbox, query=_stamp_query(stamp))
        found = await self.http.send(info, _COLLECTIONS[record_type])
        for model in (found.value if found is not None else None) or ():
            return mapping.item_from_graph(record_type, model, mailbox)
        return None

    async def read_attachments(self, mailbox: str, item_id: str,
                               max_bytes: int) -> tuple[AttachmentContent, ...]:
        return await self.attachments.read(mailbox, item_id, max_bytes)

    async def find_message(self, mailbox: str, internet_message_id: str) -> MailboxItem[Any] | None:
        wanted = internet_message_id.strip().replace("'", "''")
        if not wanted:
            return None
        query = {"$filter": f"internetMessageId eq '{wanted}'", "$expand": mapping.STAMP_EXPAND, "$top": "1"}
        info = self.http.request(Method.GET, f"/users/{seg(mailbox)}/messages", mailbox, query=query)
        found = await self.http.send(info, MessageCollectionResponse)
        for model in (found.value if found is not None else None) or ():
            return mapping.item_from_graph(RecordType.EMAIL, model, mailbox)
        return None

    # ------------------------------------------------------------------ writes

    async def apply(self, mailbox: str, writes: Sequence[MailboxWrite]) -> list[WriteResult[MailboxWrite]]:
        results: list[WriteResult[MailboxWrite] | None] = [None] * len(writes)
        batched: list[tuple[int, Step]] = []
        for index, write in enumerate(writes):
            try:
                step = self._step(mailbox, write)
            except (ExsyncError, ValueError) as exc:
                results[index] = WriteResult(write, error=_as_error(exc))
                continue
            if step is None:
                results[index] = await self._apply_multi(mailbox, write)
            else:
                batched.append((index, step))
        if batched:
            try:
                replies = await self.batches.run(mailbox, [step for _, step in batched])
            except ExsyncError as exc:
                for index, _ in batched:
                    results[index] = WriteResult(writes[index], error=exc)
            else:
                for (index, _), reply in zip(batched, replies, strict=True):
                    results[index] = self._result(mailbox, writes[index], reply)
                    if reply.resent and reply.status == 412:
                        results[index] = await self._landed_update(mailbox, writes[index]) or results[index]
        await self._fill_result_stamps(mailbox, writes, results)
        done = [r for r in results if r is not None]
        failed = sum(1 for r in done if not r.ok)
        logger.info("applied %d writes to %s (%d failed)", len(done), mailbox, failed)
        return done

    def _step(self, mailbox: str, write: MailboxWrite) -> Step | None:
        """The single batch step for ``write``, or None when it needs several requests."""
        resource = RESOURCES[write.record_type]
        if write.files and write.kind in (WriteKind.CREATE, WriteKind.SEND):
            return None
        if write.kind is WriteKind.UPDATE and write.stamp is not None and not resource.stamped_by_property:
            return None  # re-stamping a task edits its linkedResources: several requests
        if write.kind is WriteKind.CREATE:
            collection = resource.collection(mailbox, write.container)
            return Step("POST", collection, self._create_body(write), lookup=_stamp_lookup(resource, collection, write),
                        deduplicated=write.record_type is RecordType.EVENT)  # transactionId
        if write.kind is WriteKind.SEND:
            return Step("POST", f"/users/{seg(mailbox)}/sendMail", action_json(self._send_body(write)))
        item_id = _item_id(write)
        headers = {"If-Match": write.etag} if write.etag else {}
        path = resource.item(mailbox, write.container, item_id)
        if write.kind is WriteKind.UPDATE:
            return Step("PATCH", path, self._update_body(write), headers)
        if write.kind is WriteKind.DELETE:
            return Step("DELETE", path, None, headers)
        if write.kind is WriteKind.CANCEL:
            if write.record_type is not RecordType.EVENT:
                raise ValidationFailed({"kind": "CANCEL applies to events only"})
            body = action_json(CancelPostRequestBody(comment="Cancelled in the ERP"))
            return Step("POST", f"{path}/cancel", body, headers)
        raise ValidationFailed({"kind": f"unsupported mailbox write {write.kind}"})

    def _create_body(self, write: MailboxWrite) -> dict[str, Any]:
        if write.record is None:
            raise ValidationFailed({"record": "a create needs a record"})
        if isinstance(write.record, Contact):
            return mapping.contact_create_json(write.record, stamp=write.stamp, categories=write.categories,
                                               web_page=write.web_page)
        model = mapping.record_to_graph(write.record, stamp=write.stamp, categories=write.categories,
                                        web_page=write.web_page, as_received=True)
        if isinstance(model, GraphEvent):
            model.transaction_id = str(uuid.uuid4())  # Graph de-duplicates retried creates by it
        return to_json(model)

    def _send_body(self, write: MailboxWrite) -> SendMailPostRequestBody:
        if not isinstance(write.record, EmailMessage):
            raise ValidationFailed({"record": "SEND needs an EmailMessage"})
        record = dataclasses.replace(write.record, from_address="")  # the mailbox sends as itself
        message = mapping.record_to_graph(record, stamp=write.stamp, categories=write.categories,
                                          as_received=False)
        return SendMailPostRequestBody(message=message, save_to_sent_items=True)

    def _update_body(self, write: MailboxWrite) -> dict[str, Any]:
        resource = RESOURCES[write.record_type]
        model: Any
        if write.record is not None and write.record_type is not RecordType.EMAIL:
            model = mapping.record_to_graph(write.record, web_page=write.web_page, include_stamp=False)
        else:
            model = resource.model()
        if write.stamp is not None and resource.stamped_by_property:  # "" clears the stamp
            model.single_value_extended_properties = [mapping.stamp_property(write.stamp)]
        model.categories = list(write.categories) if write.categories else None
        body = to_json(model)
        if not write.categories:
            body.pop("categories", None)
        return body

    def _result(self, mailbox: str, write: MailboxWrite, reply: Reply) -> WriteResult[MailboxWrite]:
        if not reply.ok:
            return WriteResult(write, error=batch_error(reply.status, reply.body, reply.headers))
        if write.kind not in (WriteKind.CREATE, WriteKind.UPDATE) or not isinstance(reply.body, dict):
            return WriteResult(write)
        try:
            fast = mapping.contact_item_from_json(reply.body) if write.record_type is RecordType.CONTACT else None
            item = fast or mapping.item_from_graph(write.record_type, from_json(reply.body, RESOURCES[
                write.record_type].model), mailbox)
        except (ExsyncError, ValueError, TypeError) as exc:
            return WriteResult(write, error=_as_error(exc))
        if write.stamp is not None:
            item = dataclasses.replace(item, stamp=write.stamp or None)
        return WriteResult(write, item=item)

    async def _landed_update(self, mailbox: str, write: MailboxWrite) -> WriteResult[MailboxWrite] | None:
        """An update resent after its answer was lost and refused (412): done when the item now holds
        exactly what the write wanted (the lost attempt landed); None leaves it a conflict."""
        if write.kind is not WriteKind.UPDATE or write.record is None or write.record_type is RecordType.EMAIL \
                or not write.item_id:
            return None
        try:
            item = await self.get(mailbox, write.record_type, write.container, write.item_id)
        except ExsyncError:
            return None
        if item is None or item.record.content_hash() != write.record.content_hash() \
                or not set(write.categories) <= set(item.categories):
            return None
        logger.info("an update of %s whose answer was lost had landed", mailbox)
        if write.stamp is not None:
            item = dataclasses.replace(item, stamp=write.stamp or None)
        return WriteResult(write, item=item)

    async def _fill_result_stamps(self, mailbox: str, writes: Sequence[MailboxWrite],
                                  results: list[WriteResult[MailboxWrite] | None]) -> None:
        """PATCH answers carry no extended properties: read the stamp of updated items back, unless
        the write names it (``known_stamp``)."""
        for i, r in enumerate(results):  # the caller knows the stamp (its link): no read-back
            if r is not None and r.ok and isinstance(r.item, MailboxItem) and writes[i].known_stamp \
                    and writes[i].stamp is None and r.item.stamp is None:
                results[i] = dataclasses.replace(r, item=dataclasses.replace(r.item, stamp=writes[i].known_stamp))
        wanted = [i for i, r in enumerate(results) if r is not None and r.ok and isinstance(r.item, MailboxItem)
                  and r.item.stamp is None and writes[i].kind is WriteKind.UPDATE and writes[i].stamp is None]
        by_type: dict[tuple[RecordType, str], list[int]] = {}
        for i in wanted:
            by_type.setdefault((writes[i].record_type, writes[i].container), []).append(i)
        for (record_type, container), indexes in by_type.items():
            items: list[MailboxItem[Any]] = []
            for i in indexes:
                result = results[i]
                assert result is not None and isinstance(result.item, MailboxItem)
                items.append(result.item)
            try:
                filled = await self._with_stamps(mailbox, record_type, container, items)
            except ExsyncError as exc:  # the writes succeeded: report them, stamps unknown
                logger.info("could not read back %d stamps after updates: %s", len(items), type(exc).__name__)
                continue
            for i, item in zip(indexes, filled, strict=True):
                results[i] = WriteResult(writes[i], item=item)

    async def _with_stamps(self, mailbox: str, record_type: RecordType, container: str,
                           items: list[MailboxItem[Any]]) -> list[MailboxItem[Any]]:
        """``items`` with the stamps Graph did not return (one batched GET per 20 items).

        A stamp that cannot be read fails the call: an item shown unstamped could be imported twice.
        """
        models = await self._fetch_many(mailbox, record_type, container, [item.id for item in items],
                                        only_stamp=True)
        out: list[MailboxItem[Any]] = []
        for item in items:
            model = models.get(item.id)
            stamp = mapping.read_stamp(model) if model is not None else None
            out.append(dataclasses.replace(item, stamp=stamp) if stamp else item)
        return out

    async def _fetch_many(self, mailbox: str, record_type: RecordType, container: str, ids: list[str], *,
                          only_stamp: bool = False) -> dict[str, Any]:
        """Items by id through batched GETs (with their stamp); a missing item maps to None."""
        if not ids:
            return {}
        resource = RESOURCES[record_type]
        query = f"?$expand={encode_query(_expand(resource))}" + ("&$select=id" if only_stamp else "")
        steps = [Step("GET", resource.item_in(mailbox, container, item_id) + query) for item_id in ids]
        replies = await self.batches.run(mailbox, steps)
        out: dict[str, Any] = {}
        for item_id, reply in zip(ids, replies, strict=True):
            if reply.status == 404:
                out[item_id] = None
            elif not reply.ok or not isinstance(reply.body, dict):
                raise batch_error(reply.status, reply.body, reply.headers)
            else:
                out[item_id] = from_json(reply.body, resource.model)
        return out

    async def _apply_multi(self, mailbox: str, write: MailboxWrite) -> WriteResult[MailboxWrite]:
        if write.kind is WriteKind.UPDATE:
            return await self._restamp_task(mailbox, write)
        return await self._apply_with_files(mailbox, write)

    async def _restamp_task(self, mailbox: str, write: MailboxWrite) -> WriteResult[MailboxWrite]:
        """Update a To Do task and replace its exsync linkedResource ("" removes it)."""
        resource = RESOURCES[RecordType.TASK]
        try:
            path = resource.item(mailbox, write.container, _item_id(write))
            headers = {"If-Match": write.etag} if write.etag else {}
            body = json.dumps(self._update_body(write)).encode()
            await self.http.send(self.http.request(Method.PATCH, path, mailbox, raw_body=body, headers=headers),
                                 TodoTask)
            links = f"{path}/linkedResources"
            async for link in self.http.pages(mailbox, links, LinkedResourceCollectionResponse):
                if link.application_name == mapping.LINK_APPLICATION and link.id:
                    await self.http.send_no_content(
                        self.http.request(Method.DELETE, f"{links}/{seg(link.id)}", mailbox))
            if write.stamp:
                await self.http.send(self.http.request(Method.POST, links, mailbox,
                                                       body=mapping.task_link(write.stamp, write.web_page)),
                                     LinkedResource)
            item = await self.get(mailbox, RecordType.TASK, write.container, _item_id(write))
            if item is None:
                raise NotFound(f"task {write.item_id} vanished while re-stamping")
            return WriteResult(write, item=item)
        except (ExsyncError, ValueError) as exc:
            return WriteResult(write, error=_as_error(exc))

    # ------------------------------------------------------------------ writes with attachments

    async def _apply_with_files(self, mailbox: str, write: MailboxWrite) -> WriteResult[MailboxWrite]:
        """A message with attachments: create (a draft for SEND), attach, then send."""
        try:
            if not isinstance(write.record, EmailMessage):
                raise ValidationFailed({"files": "only messages carry attachments"})
            sending = write.kind is WriteKind.SEND
            record = dataclasses.replace(write.record, from_address="") if sending else write.record
            model = mapping.record_to_graph(record, stamp=write.stamp, categories=write.categories,
                                            as_received=not sending)
            assert isinstance(model, GraphMessage)
            path = f"/users/{seg(mailbox)}/messages" if sending \
                else RESOURCES[RecordType.EMAIL].collection(mailbox, write.container)
            created = await self.http.send(self.http.request(Method.POST, path, mailbox, body=model),
                                           GraphMessage)
            message_id = required_id(created, "created message")
            await self.attachments.attach_all(mailbox, message_id, write.files)
            if sending:
                await self.http.send_no_content(self.http.request(
                    Method.POST, f"/users/{seg(mailbox)}/messages/{seg(message_id)}/send", mailbox))
                return WriteResult(write)
            item = await self.get(mailbox, RecordType.EMAIL, write.container, message_id)
            return WriteResult(write, item=item)
        except (ExsyncError, ValueError) as exc:
            return WriteResult(write, error=_as_error(exc))

# ---------------------------------------------------------------------- helpers


def _expand(resource: Resource) -> str:
    return mapping.STAMP_EXPAND if resource.stamped_by_property else "linkedResources"


def _stamp_lookup(resource: Resource, collection: str, write: MailboxWrite) -> Step | None:
    """The GET that finds a create's item by its stamp if the create landed (tasks: no filterable stamp)."""
    if not write.stamp or not resource.stamped_by_property:
        return None
    query = _stamp_query(write.stamp)
    return Step("GET", f"{collection}?" + "&".join(f"{k}={encode_query(v)}" for k, v in query.items()))


def _stamp_query(stamp: str) -> dict[str, str]:
    return {"$filter": mapping.stamp_filter(stamp), "$expand": mapping.STAMP_EXPAND, "$top": "1"}


def _item_id(write: MailboxWrite) -> str:
    if not write.item_id:
        raise ValidationFailed({"item_id": f"{write.kind.value} needs the mailbox item id"})
    return write.item_id


def _as_error(exc: Exception) -> ExsyncError:
    if isinstance(exc, ExsyncError):
        return exc
    return ValidationFailed({"record": str(exc)})


async def warm_up() -> None:
    """Pay msgraph-sdk's start-up costs before the first sync: importing every model (~1 s on the
    first deserialisation) and our fast Entity deserialiser; then parse one of each model we read."""
    speedups.install()
    samples: list[tuple[dict[str, Any], Any]] = [
        ({"id": "x", "givenName": "a", "emailAddresses": [{"address": "a@b.c"}]},
         GraphContact),
        ({"id": "x", "subject": "s", "from": {"emailAddress": {"address": "a@b.c"}}},
         GraphMessage),
        ({"id": "x", "subject": "s", "start": {"dateTime": "2024-01-01T00:00:00", "timeZone": "UTC"}},
         GraphEvent),
        ({"id": "x", "title": "t", "status": "notStarted"}, TodoTask),
        ({"value": [], "@odata.deltaLink": "x"}, ContactDelta),
        ({"value": [], "@odata.deltaLink": "x"}, MessageDelta),
        ({"value": [], "@odata.deltaLink": "x"}, EventDelta),
        ({"value": [], "@odata.deltaLink": "x"}, TaskDelta),
    ]
    for data, factory in samples:
        from_json(data, factory)
        await asyncio.sleep(0)
