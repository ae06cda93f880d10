"""``ErpGateway`` for Acumatica's contract-based REST API (endpoint ``Default/24.200.001``) on httpx.

Owns how exsync reads and writes CRM records in Acumatica: scoped change listings with a
watermark cursor (:mod:`shared.erp.cursor`), id listings for deletion reconciliation, lookups,
conditional writes, attachments as files, and deletions learned from push notifications (the
caller passes them to ``list_changes`` as ``removed``; :mod:`shared.erp.push` parses them).
Mapping lives in :mod:`shared.erp.mapping`, the session (login, re-login, backoff, logout) in :mod:`shared.erp.session`.

Scope (``ErpScope``): the first listing of a type (no cursor) filters on the server (Owner,
Workgroup, addresses) and checks the exact scope client-side; incremental listings read every
change since the watermark and report records outside the scope as ``Removed`` (a record that
left the mailbox's scope is unlinked by the engine, not deleted). Events have no owner field:
their scope (organizer or attendee) is always checked client-side.

Conditional writes: Acumatica has no ETags and its ``If-Match`` only says "must exist". An update
with a ``version`` (the LastModifiedDateTime the engine read) is one PUT whose ``$filter`` names
the record by NoteID *and* that LastModifiedDateTime, with ``If-Match: *``: a record edited since
matches no filter, so the PUT inserts nothing and fails 412, and the write fails with
ConcurrencyConflict (one GET then tells a deleted record, NotFound, from an edited one). Contacts
are written without any read; activities (e-mails, tasks, events) read the record first, because
their PUT body keeps its status, attendee line ids and note tags, and fail fast on a version
mismatch. A delete with a version reads the record and compares (DELETE takes no filter).

Writes of one ``apply`` are in flight together; the session bounds how many requests run at once
(:class:`shared.erp.session.RequestSlots`, under the licence's concurrent-request limit). Each
write gets its own result, in the order given.

Batched reads (``existing_ids``, ``get_many``, ``find_contacts_by_email``) are ``or``-chained
``$filter`` terms, as many per request as fit in :data:`FILTER_BUDGET` URL-encoded characters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from shared.domain.config import ContactFilter
from shared.domain.records import Contact, EmailMessage, Event, Record, RecordType, Task
from shared.erp import mapping
from shared.erp.crm_kinds import RELATED_TYPES
from shared.erp.cursor import ChangeCursor, from_micros, micros, micros_of
from shared.erp.session import AcumaticaSession, Sleep, error_message
from shared.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    ExsyncError,
    NotFound,
    RemoteError,
    ValidationFailed,
)
from shared.ports import AttachmentContent, ErpItem, ErpScope, ErpWrite, Page, Removed, WriteKind, WriteResult
from shared.scope import in_scope

logger = logging.getLogger(__name__)

EXPAND: dict[RecordType, str] = {
    RecordType.CONTACT: "Address",
    RecordType.EMAIL: "files",
    RecordType.TASK: "",
    RecordType.EVENT: "Attendees",
}
MAX_FILE_BYTES = 64 * 1024 * 1024
FILTER_BUDGET = 1800
"""Most URL-encoded characters of one or-chained ``$filter``: IIS, which serves Acumatica, refuses
a query string over 2,048 characters by default (the rest is left for ``$select`` / ``$expand``).
25 NoteIDs fit in one chain."""
EXISTS_SELECT = {
    RecordType.CONTACT: "NoteID,LastModifiedDateTime,Owner,Workgroup",
    RecordType.EMAIL: "NoteID,LastModifiedDateTime,Owner,From,To,Cc,Bcc",
    RecordType.TASK: "NoteID,LastModifiedDateTime,Owner",
}
"""The fields ``existing_ids`` reads: the version (every envelope has one) and the scope's fields.
Events are read whole with their attendees (the organizer is an attendee line)."""


def _as_guid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except (ValueError, AttributeError):
        return None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _when(moment_micros: int) -> str:
    return f"datetimeoffset'{from_micros(moment_micros).isoformat(timespec='microseconds')}'"


def or_chains(keys: Sequence[str], term: Callable[[str], str], *, fixed: str | None = None,
              budget: int = FILTER_BUDGET) -> Iterator[tuple[list[str], str]]:
    """``(keys, $filter)`` per request: ``(term(k1) or term(k2) …)`` (``and (fixed)`` when given),
    each within ``budget`` URL-encoded characters (one key per chain at least)."""
    suffix = f" and ({fixed})" if fixed else ""
    base = len(quote("()" + suffix, safe=""))
    joiner = len(quote(" or ", safe=""))
    chunk: list[str] = []
    terms: list[str] = []
    size = base
    for key in keys:
        text = term(key)
        cost = len(quote(text, safe="")) + (joiner if terms else 0)
        if terms and size + cost > budget:
            yield chunk, "(" + " or ".join(terms) + ")" + suffix
            chunk, terms, size = [], [], base
            cost = len(quote(text, safe=""))
        chunk.append(key)
        terms.append(text)
        size += cost
    if terms:
        yield chunk, "(" + " or ".join(terms) + ")" + suffix


def _note_id(key: str) -> str:
    return f"NoteID eq guid'{key}'"


def _guids(ids: Sequence[str]) -> dict[str, str]:
    """Canonical GUID text -> the caller's id; an id that is no GUID names no Acumatica record."""
    return {str(u): item_id for item_id in ids if (u := _as_guid(item_id)) is not None}


def unchanged_filter(item_id: str, version: str) -> str:
    """The ``$filter`` of a conditional PUT: this record, as last modified at ``version``."""
    guid = _as_guid(item_id)
    if guid is None:
        raise NotFound(f"{item_id!r} names no Acumatica record (not a NoteID)")
    if mapping.parse_time(version) is None or "'" in version:
        raise ValidationFailed({"version": f"{version!r} is no LastModifiedDateTime; pass the value the "
                                           "ERP served"})
    return f"{_note_id(str(guid))} and LastModifiedDateTime eq datetimeoffset'{version}'"


class AcumaticaErpGateway:
    """The ERP's CRM records in one Acumatica tenant."""

    def __init__(self, base_url: str, *, username: str, password: str, tenant: str,
                 endpoint: str = "Default/24.200.001", http_client: httpx.AsyncClient | None = None,
                 overlap: timedelta = timedelta(minutes=2), max_retries: int = 5, backoff: float = 1.0,
                 sleep: Sleep = asyncio.sleep,
                 session: AcumaticaSession | None = None) -> None:
        """``session``: a logged-in session to borrow (kept open by :meth:`aclose`); else its own."""
        self._owns_session = session is None
        self._session = session or AcumaticaSession(
            base_url, username=username, password=password, tenant=tenant, http_client=http_client,
            max_retries=max_retries, backoff=backoff, sleep=sleep)
        self._prefix = f"/entity/{endpoint.strip('/')}"
        self._overlap = overlap

    @property
    def session(self) -> AcumaticaSession:
        return self._session

    # ------------------------------------------------------------ HTTP helpers

    def _path(self, record_type: RecordType, *parts: str) -> str:
        return "/".join([self._prefix, mapping.ENTITY[record_type], *parts])

    async def _get_json(self, path: str, params: Mapping[str, str] | None = None) -> tuple[Any, httpx.Response]:
        response = await self._session.request("GET", path, params=params)
        _raise_for(response, f"GET {path}")
        return response.json(), response

    async def _list(self, record_type: RecordType, params: Mapping[str, str]) -> tuple[list[Any], httpx.Response]:
        body, response = await self._get_json(self._path(record_type), params)
        if not isinstance(body, list):
            raise RemoteError(f"Acumatica listed {mapping.ENTITY[record_type]} without an array")
        return body, response

    async def _list_chained(self, record_type: RecordType, keys: Sequence[str], term: Callable[[str], str],
                            params: Mapping[str, str], fixed: str | None = None) -> list[tuple[list[str], list[Any]]]:
        """``(keys, rows)`` of each or-chain of ``keys`` (see :func:`or_chains`), listed concurrently."""
        chains = list(or_chains(keys, term, fixed=fixed))

        async def one(filter_: str) -> list[Any]:
            rows, _ = await self._list(record_type, {**params, "$filter": filter_})
            return rows

        listed = await asyncio.gather(*(one(filter_) for _, filter_ in chains))
        return [(chunk, rows) for (chunk, _), rows in zip(chains, listed, strict=True)]

    async def _fetch(self, record_type: RecordType, item_id: str) -> dict[str, Any] | None:
        params = {"$expand": EXPAND[record_type]} if EXPAND[record_type] else None
        response = await self._session.request("GET", self._path(record_type, item_id), params=params)
        if response.status_code == 404:
            return None
        if response.status_code == 500 and "No entity satisfies" in error_message(response):
            return None
        _raise_for(response, f"GET {mapping.ENTITY[record_type]}")
        body: dict[str, Any] = response.json()
        return body

    async def _files(self, entity: Mapping[str, Any], max_bytes: int = MAX_FILE_BYTES) -> list[AttachmentContent]:
        out: list[AttachmentContent] = []
        for link in entity.get("files") or []:
            href = str(link.get("href", ""))
            if not href:
                continue
            response = await self._session.request("GET", href)
            _raise_for(response, "GET file")
            content = response.content
            if len(content) <= max_bytes:
                name = mapping.file_name(link)
                out.append(AttachmentContent(mapping.attachment_meta(name, content), content))
        return out

    async def _item(self, record_type: RecordType, entity: Mapping[str, Any]) -> ErpItem[Any]:
        files = await self._files(entity) if record_type is RecordType.EMAIL else []
        return mapping.item_from_entity(record_type, entity, files)

    # ------------------------------------------------------------ scope

    def _scope_filter(self, record_type: RecordType, scope: ErpScope) -> str | None:
        """A server-side filter narrowing the first listing (the exact check is client-side)."""
        if record_type is RecordType.CONTACT:
            if scope.contact_filter is ContactFilter.OWNER:
                return f"Owner eq {_quote(scope.employee_id)}"
            if scope.contact_filter is ContactFilter.WORKGROUP:
                terms = [f"Owner eq {_quote(scope.employee_id)}"]
                return " or ".join(terms + [f"Workgroup eq {_quote(w)}" for w in scope.workgroups])
            return None
        if record_type is RecordType.TASK:
            return f"Owner eq {_quote(scope.employee_id)}"
        if record_type is RecordType.EMAIL:
            address = _quote(scope.email.strip().lower())
            terms = [f"Owner eq {_quote(scope.employee_id)}"]
            terms += [f"substringof({address}, {field})" for field in ("From", "To", "Cc", "Bcc")]
            return " or ".join(terms)
        return None  # events: attendees are details, filtered client-side

    @staticmethod
    def _in_scope(record_type: RecordType, item: ErpItem[Any], scope: ErpScope) -> bool:
        return in_scope(record_type, item, scope)

    # ------------------------------------------------------------ listings

    async def list_changes(self, record_type: RecordType, scope: ErpScope, cursor: str | None,
                           page_size: int, removed: Sequence[str] = ()) -> Page[ErpItem[Any]]:
        """One page of records changed since ``cursor`` in scope (see :mod:`shared.erp.cursor`)."""
        if page_size < 1:
            raise ValidationFailed({"page_size": "expected at least 1"})
        _check_scope(record_type, scope)
        state = ChangeCursor.decode(cursor)
        incremental = state.since is not None
        skip = state.page_skip(page_size)
        terms = [f"LastModifiedDateTime gt {_when(state.since)}"] if state.since is not None else []
        scope_filter = None if incremental else self._scope_filter(record_type, scope)
        if scope_filter:
            terms.append(f"({scope_filter})")
        params = {"$top": str(page_size), "$skip": str(skip)}
        if terms:
            params["$filter"] = " and ".join(terms)
        if EXPAND[record_type]:
            params["$expand"] = EXPAND[record_type]
        rows, response = await self._list(record_type, params)
        started, next_since = state.run_start(_server_time(response), micros_of(self._overlap))
        next_seen = dict(state.next_seen)
        items: list[ErpItem[Any] | Removed] = [Removed(i) for i in dict.fromkeys(removed)]
        for row in rows:
            item = mapping.item_from_entity(record_type, row)  # attachments only for what is listed
            stamp = micros(item.modified_at)
            listed = state.listed_before(item.id, stamp, next_since, next_seen)
            if next_since is not None and stamp >= next_since:
                next_seen[item.id] = stamp
            if listed:
                continue  # listed before (page overlap or the previous run's overlap window)
            if self._in_scope(record_type, item, scope):
                items.append(await self._item(record_type, row) if row.get("files") else item)
            elif state.reports_left_scope(stamp):
                items.append(Removed(item.id))
        new_cursor = state.after_page(page_size=page_size, skip=skip,
                                      row_ids=[str(r.get("id", "")) for r in rows], started=started,
                                      next_since=next_since, next_seen=next_seen,
                                      scoped_first=not incremental and bool(scope_filter))
        logger.debug("listed %d %s rows (skip %d), %d changes", len(rows), record_type, skip, len(items))
        return Page(items=tuple(items), cursor=new_cursor.encode(), complete=len(rows) < page_size)

    async def list_ids(self, record_type: RecordType, scope: ErpScope, cursor: str | None,
                       page_size: int) -> Page[str]:
        """Ids of every record in scope, paged by ``$skip`` (cursor: rows consumed)."""
        _check_scope(record_type, scope)
        skip = int(cursor) if cursor and cursor.isdigit() else 0
        params = {"$top": str(page_size), "$skip": str(skip)}
        scope_filter = self._scope_filter(record_type, scope)
        if scope_filter:
            params["$filter"] = scope_filter
        if record_type is RecordType.EVENT:
            params["$expand"] = "Attendees"
        rows, _ = await self._list(record_type, params)
        ids = []
        for row in rows:
            item = mapping.item_from_entity(record_type, row)
            if self._in_scope(record_type, item, scope):
                ids.append(item.id)
        complete = len(rows) < page_size
        return Page(items=tuple(ids), cursor=None if complete else str(skip + len(rows)), complete=complete)

    async def existing_ids(self, record_type: RecordType, scope: ErpScope, ids: Sequence[str]) -> set[str]:
        """Which ids exist and are in scope: ``NoteID eq guid'…'`` or-chains (with the scope
        filter), checked client-side like ``list_ids``. An id that is no GUID names no Acumatica
        record: it is missing. ``$select`` asks only for what the scope check reads (events: the
        whole row with attendees)."""
        _check_scope(record_type, scope)
        wanted = _guids(ids)
        found: set[str] = set()
        params = {"$select": EXISTS_SELECT[record_type]} if record_type in EXISTS_SELECT else {"$expand": "Attendees"}
        for _, rows in await self._list_chained(record_type, list(wanted), _note_id, params,
                                                fixed=self._scope_filter(record_type, scope)):
            for row in rows:
                item = mapping.item_from_entity(record_type, row)
                key = str(_as_guid(item.id))
                if key in wanted and self._in_scope(record_type, item, scope):
                    found.add(wanted[key])
        return found

    # ------------------------------------------------------------ lookups

    async def get(self, record_type: RecordType, item_id: str) -> ErpItem[Any] | None:
        entity = await self._fetch(record_type, item_id)
        return None if entity is None else await self._item(record_type, entity)

    async def get_many(self, record_type: RecordType, ids: Sequence[str]) -> dict[str, ErpItem[Any]]:
        """The records of ``ids`` that exist (in any scope), by the caller's id: ``NoteID`` or-chains,
        expanded like ``get``."""
        wanted = _guids(ids)
        found: dict[str, ErpItem[Any]] = {}
        params = {"$expand": EXPAND[record_type]} if EXPAND[record_type] else {}
        for _, rows in await self._list_chained(record_type, list(wanted), _note_id, params):
            for row in rows:
                key = str(_as_guid(str(row.get("id", ""))))
                if key in wanted and wanted[key] not in found:
                    found[wanted[key]] = await self._item(record_type, row)
        return found

    async def _find_one(self, record_type: RecordType, filter_: str,
                        check: Any = None) -> ErpItem[Any] | None:
        params = {"$filter": filter_}
        if EXPAND[record_type]:
            params["$expand"] = EXPAND[record_type]
        rows, _ = await self._list(record_type, params)
        for row in rows:
            item = await self._item(record_type, row)
            if check is None or check(item, row):
                return item
        return None

    async def find_by_origin(self, record_type: RecordType, origin: str) -> ErpItem[Any] | None:
        if record_type is RecordType.CONTACT:
            return await self._find_one(record_type, f"ExtRefNbr eq {_quote(origin)}",
                                        lambda item, _: item.origin == origin)
        return await self._find_one(record_type, f"substringof({_quote(mapping.ORIGIN_TAG + origin)}, note)",
                                    lambda item, _: item.origin == origin)

    async def find_contact_by_email(self, email: str) -> ErpItem[Any] | None:
        wanted = email.strip().lower()
        if not wanted:
            return None
        return await self._find_one(RecordType.CONTACT, f"Email eq {_quote(wanted)}",
                                    lambda item, _: item.record.email.strip().lower() == wanted)

    async def find_contacts_by_email(self, emails: Sequence[str]) -> dict[str, ErpItem[Any]]:
        """``find_contact_by_email`` for many addresses at once (``Email eq`` or-chains): the first
        contact per address, by the address stripped and lower-cased."""
        wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
        found: dict[str, ErpItem[Any]] = {}
        for chunk, rows in await self._list_chained(RecordType.CONTACT, wanted, lambda e: f"Email eq {_quote(e)}",
                                                    {"$expand": EXPAND[RecordType.CONTACT]}):
            asked = set(chunk)
            for row in rows:
                item = mapping.item_from_entity(RecordType.CONTACT, row)
                key = item.record.email.strip().lower()
                if key in asked and key not in found:
                    found[key] = item
        return found

    async def find_email_by_message_id(self, internet_message_id: str) -> ErpItem[Any] | None:
        wanted = internet_message_id.strip()
        if not wanted:
            return None
        tag = mapping.MESSAGE_ID_TAG + wanted
        return await self._find_one(RecordType.EMAIL, f"substringof({_quote(tag)}, note)",
                                    lambda item, _: item.record.internet_message_id == wanted)

    async def read_attachments(self, record_type: RecordType, item_id: str,
                               max_bytes: int) -> tuple[AttachmentContent, ...]:
        response = await self._session.request("GET", self._path(record_type, item_id),
                                               params={"$expand": "files"})
        if response.status_code == 404:
            raise NotFound(f"{record_type} {item_id} not found")
        _raise_for(response, f"GET {mapping.ENTITY[record_type]}")
        return tuple(await self._files(response.json(), max_bytes))

    # ------------------------------------------------------------ writes

    async def apply(self, writes: Sequence[ErpWrite]) -> list[WriteResult[ErpWrite]]:
        """Every write in flight at once (the session bounds the requests running together); one
        result per write, in order, whatever order they finish in."""
        results: list[WriteResult[ErpWrite] | None] = [None] * len(writes)

        async def one(index: int, write: ErpWrite) -> None:
            try:
                item = await self._apply_one(write)
            except ExsyncError as exc:
                logger.info("ERP %s of a %s failed: %s", write.kind, write.record_type, type(exc).__name__)
                results[index] = WriteResult(write, error=exc)
                return
            results[index] = WriteResult(write, item=item)

        async with asyncio.TaskGroup() as group:
            for index, write in enumerate(writes):
                group.create_task(one(index, write))
        return [result for result in results if result is not None]

    async def _apply_one(self, write: ErpWrite) -> ErpItem[Any] | None:
        if write.kind is WriteKind.CREATE:
            if write.record is None:
                raise ValidationFailed({"record": "a create needs a record"})
            entity = await self._create(write, write.record)
            return await self._after_write(write, entity)
        if write.kind not in (WriteKind.UPDATE, WriteKind.DELETE):
            raise ValidationFailed({"kind": f"{write.kind} is a mailbox-only write"})
        if not write.item_id:
            raise ValidationFailed({"item_id": f"an ERP {write.kind} needs the record id"})
        if write.kind is WriteKind.UPDATE and write.record_type is RecordType.CONTACT:
            return await self._update(write, None)   # a contact's PUT body needs nothing of the record
        current = await self._fetch(write.record_type, write.item_id)
        if current is None:
            raise NotFound(f"{write.record_type} {write.item_id} not found")
        version = mapping.value(current, "LastModifiedDateTime")
        if write.version is not None and str(version) != write.version:
            raise ConcurrencyConflict(f"{write.record_type} {write.item_id} changed since {write.version}")
        if write.kind is WriteKind.DELETE:
            response = await self._session.request("DELETE", self._path(write.record_type, write.item_id))
            if response.status_code == 404:
                raise NotFound(f"{write.record_type} {write.item_id} not found")
            _raise_for(response, f"DELETE {mapping.ENTITY[write.record_type]}")
            return None
        return await self._update(write, current)

    async def _update(self, write: ErpWrite, current: Mapping[str, Any] | None) -> ErpItem[Any]:
        """One PUT: conditional on ``write.version`` when given (see the module docstring), else
        update-only (``If-Match: *``)."""
        assert write.item_id is not None
        body = self._body(write, write.record, current) if write.record is not None else {}
        if write.record is None and write.owner is not None:
            body["Owner"] = {"value": write.owner}
        if write.version is None:
            body["id"] = write.item_id
            entity = await self._put(write.record_type, body, update_only=True)
            return await self._after_write(write, entity, current)
        try:
            entity = await self._put(write.record_type, body, update_only=True,
                                     match=unchanged_filter(write.item_id, write.version))
        except NotFound:
            if await self._fetch(write.record_type, write.item_id) is None:
                raise
            raise ConcurrencyConflict(f"{write.record_type} {write.item_id} changed since {write.version}") from None
        return await self._after_write(write, entity, current)

    async def _create(self, write: ErpWrite, record: Record) -> dict[str, Any]:
        """PUT a new record. A ``related_record`` that no longer exists (the case a conversation was
        filed to was deleted) falls back to the e-mail's contacts: the mail is filed, not lost."""
        try:
            return await self._put(write.record_type, self._body(write, record, None), create_only=True)
        except ValidationFailed as exc:
            if write.related_record is None or "RelatedEntityNoteID" not in exc.errors:
                raise
        logger.info("the %s a followed conversation was filed to is gone; the e-mail goes to its contacts",
                    write.related_record[0])
        plain = dataclasses.replace(write, related_record=None)
        return await self._put(write.record_type, self._body(plain, record, None), create_only=True)

    def _body(self, write: ErpWrite, record: Record, current: Mapping[str, Any] | None) -> dict[str, Any]:
        """The PUT body for a record; ``current`` (on update) keeps status, attendee ids and note."""
        origin = write.origin if write.kind is WriteKind.CREATE else None
        related = write.related_contacts[0] if write.related_contacts else None
        note = mapping.note_text(current) if current is not None else None
        status = mapping.text(current, "Status") or None if current is not None else None
        if isinstance(record, Contact) and write.record_type is RecordType.CONTACT:
            return mapping.contact_from_domain(
                record, owner=write.owner,
                contact_class=write.contact_class if write.kind is WriteKind.CREATE else None, origin=origin)
        if isinstance(record, EmailMessage) and write.record_type is RecordType.EMAIL:
            entity = (RELATED_TYPES[write.related_record[0]], write.related_record[1]) if write.related_record \
                else None
            return mapping.email_from_domain(record, owner=write.owner, related_contact=related, origin=origin,
                                             current_note=note, related_entity=entity)
        if isinstance(record, Task) and write.record_type is RecordType.TASK:
            return mapping.task_from_domain(record, current_status=status, owner=write.owner,
                                            related_contact=related, origin=origin, current_note=note)
        if isinstance(record, Event) and write.record_type is RecordType.EVENT:
            attendees = (current or {}).get("Attendees") or []
            return mapping.event_from_domain(record, current_status=status, current_attendees=attendees,
                                             origin=origin, related_contact=related, current_note=note)
        raise ValidationFailed({"record": f"expected a {write.record_type} record, got {type(record).__name__}"})

    async def _put(self, record_type: RecordType, body: Mapping[str, Any], *, create_only: bool = False,
                   update_only: bool = False, match: str | None = None) -> dict[str, Any]:
        """``match``: the ``$filter`` identifying the record to update (instead of the body's ``id``)."""
        headers = {"If-None-Match": "*"} if create_only else {"If-Match": "*"} if update_only else {}
        params = {"$expand": EXPAND[record_type]} if EXPAND[record_type] and record_type is not RecordType.EMAIL \
            else {}
        if match is not None:
            params["$filter"] = match
        response = await self._session.request("PUT", self._path(record_type), json=body, headers=headers,
                                               params=params or None, idempotent=not create_only)
        if response.status_code == 412:
            if create_only:
                raise AlreadyExists(f"{mapping.ENTITY[record_type]} already exists: {error_message(response)}")
            raise NotFound(f"{mapping.ENTITY[record_type]} no longer exists: {error_message(response)}")
        _raise_for(response, f"PUT {mapping.ENTITY[record_type]}")
        entity: dict[str, Any] = response.json()
        return entity

    async def _after_write(self, write: ErpWrite, entity: dict[str, Any],
                           current: Mapping[str, Any] | None = None) -> ErpItem[Any]:
        """Upload files (replacing the record's set) and build the written item."""
        files: list[AttachmentContent] = []
        if write.record_type is RecordType.EMAIL:
            if write.files:
                await self._replace_files(write.record_type, str(entity["id"]), write.files, current)
                files = [AttachmentContent(mapping.attachment_meta(f.meta.name, f.content), f.content)
                         for f in write.files]
            elif current is not None:
                files = await self._files(current)   # read with $expand=files; the update kept them
        return mapping.item_from_entity(write.record_type, entity, files)

    async def _replace_files(self, record_type: RecordType, item_id: str, files: Sequence[AttachmentContent],
                             current: Mapping[str, Any] | None) -> None:
        names = {f.meta.name for f in files}
        for link in (current or {}).get("files") or []:
            if mapping.file_name(link) not in names and link.get("href"):
                response = await self._session.request("DELETE", str(link["href"]))
                if response.status_code != 404:
                    _raise_for(response, "DELETE file")
        for file in files:
            path = self._path(record_type, item_id, "files", quote(file.meta.name, safe=""))
            response = await self._session.request("PUT", path, content=file.content,
                                                   headers={"Content-Type": "application/octet-stream"})
            _raise_for(response, "PUT file")

    async def aclose(self) -> None:
        """Log out, freeing the API-user licence (a borrowed session stays with its owner)."""
        if self._owns_session:
            await self._session.aclose()


def _server_time(response: httpx.Response) -> int | None:
    """The server's clock from the HTTP ``Date`` header (µs since the epoch), if it sent one."""
    raw = response.headers.get("Date")
    if raw is None:
        return None
    try:
        return micros(parsedate_to_datetime(raw))
    except (TypeError, ValueError):
        return None


def _check_scope(record_type: RecordType, scope: ErpScope) -> None:
    """Warn when a workgroup filter comes without workgroups: the Default endpoint cannot look them up."""
    if record_type is RecordType.CONTACT and scope.contact_filter is ContactFilter.WORKGROUP \
            and not scope.workgroups:
        logger.warning("workgroup contact filter of employee %s without workgroups: Acumatica's Default "
                       "endpoint does not expose workgroup membership, so only the employee's own contacts "
                       "are in scope; list the workgroups in the scope", scope.employee_id)


def _raise_for(response: httpx.Response, what: str) -> None:
    """Translate an error answer into the exsync error hierarchy."""
    status = response.status_code
    if status < 400:
        return
    message = error_message(response)
    if status == 422:
        raise ValidationFailed(_field_errors(response) or {"record": message})
    if status == 400:
        raise ValidationFailed({"request": f"{what}: {message}"})
    if status == 404:
        raise NotFound(f"{what}: {message}")
    if status == 412:
        raise ConcurrencyConflict(f"{what}: {message}")
    raise RemoteError(f"Acumatica {what} answered {status}: {message}", status=status)


def _field_errors(response: httpx.Response) -> dict[str, str]:
    """Per-field ``error`` values of a 422 body (nested details included)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    errors: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping):
            for key, child in node.items():
                if isinstance(child, Mapping) and "error" in child and isinstance(child["error"], str):
                    errors[f"{prefix}{key}"] = child["error"]
                elif isinstance(child, Mapping | list):
                    walk(child, f"{prefix}{key}.")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{prefix[:-1]}[{i}].")

    walk(body, "")
    return errors
