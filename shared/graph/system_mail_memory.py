"""In-memory twin of :class:`shared.graph.system_mail.GraphSystemMail` (same contract suite,
``tests/contract/test_system_mail_gateway.py``).

Messages are delivered with :meth:`InMemorySystemMail.deliver`; the delta cursor is the number of
deliveries seen; sent MIME is parsed and kept in :attr:`sent` (headers by lower-case name).
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import itertools
from typing import Any

from shared.errors import NotFound
from shared.ports import AttachmentContent, InboxMessage, Page


@dataclasses.dataclass
class _Stored:
    message: InboxMessage
    folder: str = "inbox"
    is_read: bool = False
    files: tuple[AttachmentContent, ...] = ()


class InMemorySystemMail:
    def __init__(self) -> None:
        self.boxes: dict[str, dict[str, _Stored]] = {}
        self.order: dict[str, list[str]] = {}
        self.sent: dict[str, list[dict[str, Any]]] = {}
        self.denied: set[str] = set()
        self._ids = itertools.count(1)

    def deliver(self, mailbox: str, message: InboxMessage, files: tuple[AttachmentContent, ...] = ()) -> InboxMessage:
        ident = message.id or f"m{next(self._ids)}"
        stored = dataclasses.replace(message, id=ident, has_attachments=bool(files))
        self.boxes.setdefault(mailbox, {})[ident] = _Stored(stored, files=files)
        self.order.setdefault(mailbox, []).append(ident)
        return stored

    def _box(self, mailbox: str) -> dict[str, _Stored]:
        if mailbox in self.denied:
            raise NotFound(f"mailbox {mailbox}: access denied")
        return self.boxes.setdefault(mailbox, {})

    def _item(self, mailbox: str, message_id: str) -> _Stored:
        found = self._box(mailbox).get(message_id)
        if found is None:
            raise NotFound(f"message {message_id} not found")
        return found

    def folder_of(self, mailbox: str, message_id: str) -> str:
        return self._item(mailbox, message_id).folder

    def is_read(self, mailbox: str, message_id: str) -> bool:
        return self._item(mailbox, message_id).is_read

    async def inbox_changes(self, mailbox: str, cursor: str | None, page_size: int) -> Page[InboxMessage]:
        seen = int(cursor or 0)
        order = self.order.get(mailbox, [])
        page = order[seen:seen + page_size]
        items = tuple(self._box(mailbox)[i].message for i in page
                      if i in self._box(mailbox) and self._box(mailbox)[i].folder == "inbox")
        done = seen + len(page) >= len(order)
        return Page(items, str(seen + len(page)), done)

    async def recent(self, mailbox: str, count: int) -> list[InboxMessage]:
        rows = [s.message for s in self._box(mailbox).values() if s.folder == "inbox"]
        rows.sort(key=lambda m: (m.received_at is None, m.received_at), reverse=True)
        return rows[:count]

    async def get_message(self, mailbox: str, message_id: str) -> InboxMessage | None:
        found = self._box(mailbox).get(message_id)
        return found.message if found else None

    async def read_attachments(self, mailbox: str, message_id: str,
                               max_bytes: int) -> tuple[AttachmentContent, ...]:
        return tuple(f for f in self._item(mailbox, message_id).files if len(f.content) <= max_bytes)

    async def stamp(self, mailbox: str, message_id: str, value: str) -> None:
        stored = self._item(mailbox, message_id)
        stored.message = dataclasses.replace(stored.message, stamp=value)

    async def send_mime(self, mailbox: str, mime: bytes) -> None:
        parsed = email.message_from_bytes(mime, policy=email.policy.default)
        self.sent.setdefault(mailbox, []).append({k.lower(): str(v) for k, v in parsed.items()})

    async def after_processing(self, mailbox: str, message_id: str, action: str, folder: str | None) -> None:
        stored = self._item(mailbox, message_id)
        if action == "mark_read":
            stored.is_read = True
        elif action == "move" and folder:
            stored.folder = folder
        elif action == "delete":
            del self._box(mailbox)[message_id]

    async def check(self, mailbox: str) -> list[dict[str, Any]]:
        ok = mailbox not in self.denied
        findings = [{"check": "mailbox exists", "ok": True}]
        for check in ("inbox readable", "can write messages"):
            findings.append({"check": check, "ok": ok, **({} if ok else {"message": "access denied",
                                                                          "fix": "scope the app to the mailbox"})})
        return findings
