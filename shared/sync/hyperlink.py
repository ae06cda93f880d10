"""The contact hyperlink rule: the business home page of an exported contact links to the ERP record.

Graph reads the business home page back as the contact's web page, so a mailbox contact's
``web_page`` holds exsync's link, not the contact's own web site. :class:`HyperlinkView` wraps
the mailbox gateway and shows such links as an empty web page to the engine, and
:func:`keep_erp_web_page` keeps the ERP's own web site when mailbox edits flow into the ERP.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from shared.domain.records import Contact, Record, RecordType
from shared.ports import (
    AttachmentContent,
    MailboxGateway,
    MailboxItem,
    MailboxWrite,
    Page,
    Removed,
    WriteResult,
)


def _strip(item: MailboxItem[Any], template: str) -> MailboxItem[Any]:
    record = item.record
    if isinstance(record, Contact) and record.web_page.strip().startswith(template):
        return dataclasses.replace(item, record=dataclasses.replace(record, web_page=""))
    return item


def keep_erp_web_page(record: Record, erp_record: Record | None) -> Record:
    """A contact written to the ERP keeps the ERP's web site (the mailbox shows exsync's link)."""
    if isinstance(record, Contact) and isinstance(erp_record, Contact):
        return dataclasses.replace(record, web_page=erp_record.web_page)
    return record


class HyperlinkView:
    """A MailboxGateway whose contacts show exsync's ERP links as an empty web page."""

    def __init__(self, inner: MailboxGateway, template: str) -> None:
        self._inner = inner
        self._template = template.rstrip("/")

    def _view(self, item: MailboxItem[Any] | None) -> MailboxItem[Any] | None:
        return None if item is None else _strip(item, self._template)

    async def ensure_container(self, mailbox: str, record_type: RecordType, name: str | None) -> str:
        return await self._inner.ensure_container(mailbox, record_type, name)

    async def ensure_category(self, mailbox: str, name: str, color: str) -> None:
        await self._inner.ensure_category(mailbox, name, color)

    async def list_changes(self, mailbox: str, record_type: RecordType, container: str,
                           cursor: str | None, page_size: int, *, stamps: bool = True) -> Page[MailboxItem[Any]]:
        page = await self._inner.list_changes(mailbox, record_type, container, cursor, page_size, stamps=stamps)
        items: tuple[MailboxItem[Any] | Removed, ...] = tuple(
            e if isinstance(e, Removed) else _strip(e, self._template) for e in page.items)
        return dataclasses.replace(page, items=items)

    async def fill_stamps(self, mailbox: str, record_type: RecordType, container: str,
                          items: Sequence[MailboxItem[Any]]) -> list[MailboxItem[Any]]:
        return await self._inner.fill_stamps(mailbox, record_type, container, items)

    async def get(self, mailbox: str, record_type: RecordType, container: str,
                  item_id: str) -> MailboxItem[Any] | None:
        return self._view(await self._inner.get(mailbox, record_type, container, item_id))

    async def find_by_stamp(self, mailbox: str, record_type: RecordType, container: str,
                            stamp: str) -> MailboxItem[Any] | None:
        return self._view(await self._inner.find_by_stamp(mailbox, record_type, container, stamp))

    async def existing_ids(self, mailbox: str, record_type: RecordType, container: str,
                           ids: Sequence[str]) -> set[str]:
        return await self._inner.existing_ids(mailbox, record_type, container, ids)

    async def find_message(self, mailbox: str, internet_message_id: str) -> MailboxItem[Any] | None:
        return await self._inner.find_message(mailbox, internet_message_id)

    async def read_attachments(self, mailbox: str, item_id: str,
                               max_bytes: int) -> tuple[AttachmentContent, ...]:
        return await self._inner.read_attachments(mailbox, item_id, max_bytes)

    async def apply(self, mailbox: str, writes: Sequence[MailboxWrite]) -> list[WriteResult[MailboxWrite]]:
        results = await self._inner.apply(mailbox, writes)
        return [dataclasses.replace(r, item=_strip(r.item, self._template))
                if isinstance(r.item, MailboxItem) else r for r in results]
