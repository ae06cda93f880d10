"""The thread map of system mailboxes, on any :class:`~shared.ports.DocumentStore` (Table Storage in
production, the in-memory twin in unit tests; both pass ``tests/contract/test_thread_map.py``).

Per system mailbox it keeps (values are small JSON documents; :mod:`shared.mailproc.threads`
gives them their types):
- ``mailproc_msg``: internetMessageId -> what became of the message (the thread it was filed on,
  or that it was ignored). Messages exsync sends (confirmations) are entered too, so a customer's
  In-Reply-To naming one of them finds its case.
- ``mailproc_conv``: Graph conversationId -> the thread last filed in it and when (the 30-day rule).
- ``mailproc_intent``: a create about to happen in the ERP, written create-only before the ERP
  write; a replay, a second worker or the run after a crash finds it and resolves it by its origin
  key instead of writing again.
- ``mailproc_reply``: when exsync last replied automatically to a sender in a thread.
Keys are ``<mailbox>|<id>`` (ids lower-cased; long ones hashed so every key fits Table Storage).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from shared.errors import AlreadyExists, ConcurrencyConflict
from shared.ports import DocumentStore

MESSAGES, CONVERSATIONS, INTENTS, REPLIES = "mailproc_msg", "mailproc_conv", "mailproc_intent", "mailproc_reply"
_MAX_ID = 200


def key(mailbox: str, ident: str) -> str:
    clean = ident.strip().lower()
    if len(clean) > _MAX_ID:
        clean = "sha256:" + hashlib.sha256(clean.encode()).hexdigest()
    return f"{mailbox.lower()}|{clean}"


class ThreadMap:
    """Thread bookkeeping of the system mailboxes (see the module docstring)."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    async def message(self, mailbox: str, internet_message_id: str) -> dict[str, Any] | None:
        doc = await self.store.get_doc(MESSAGES, key(mailbox, internet_message_id))
        return doc.value if doc else None

    async def conversation(self, mailbox: str, conversation_id: str) -> dict[str, Any] | None:
        if not conversation_id:
            return None
        doc = await self.store.get_doc(CONVERSATIONS, key(mailbox, conversation_id))
        return doc.value if doc else None

    async def record(self, mailbox: str, internet_message_id: str, outcome: dict[str, Any],
                     conversation_id: str | None = None, thread: dict[str, Any] | None = None) -> None:
        """What became of a message; with ``thread``, also its conversation's latest thread."""
        await self.store.put_doc(MESSAGES, key(mailbox, internet_message_id), outcome, force=True)
        if thread is not None and conversation_id:
            await self.store.put_doc(CONVERSATIONS, key(mailbox, conversation_id), thread, force=True)

    async def begin(self, mailbox: str, internet_message_id: str, intent: dict[str, Any]) -> dict[str, Any] | None:
        """Write the intent create-only: None when written, else the intent that was already there."""
        ident = key(mailbox, internet_message_id)
        try:
            await self.store.put_doc(INTENTS, ident, intent)
            return None
        except (AlreadyExists, ConcurrencyConflict):
            doc = await self.store.get_doc(INTENTS, ident)
            return doc.value if doc else intent

    async def intent(self, mailbox: str, internet_message_id: str) -> dict[str, Any] | None:
        doc = await self.store.get_doc(INTENTS, key(mailbox, internet_message_id))
        return doc.value if doc else None

    async def finish(self, mailbox: str, internet_message_id: str) -> None:
        await self.store.delete_doc(INTENTS, key(mailbox, internet_message_id))

    async def last_reply(self, mailbox: str, sender: str, thread: str) -> datetime | None:
        doc = await self.store.get_doc(REPLIES, key(mailbox, f"{sender}|{thread}"))
        return datetime.fromisoformat(doc.value["at"]) if doc else None

    async def replied(self, mailbox: str, sender: str, thread: str, at: datetime) -> None:
        await self.store.put_doc(REPLIES, key(mailbox, f"{sender}|{thread}"), {"at": at.isoformat()}, force=True)
