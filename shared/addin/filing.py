"""Where a conversation is filed: the add-in's own filings (DocumentStore kind ``addin_filing``,
one document per mailbox and conversation), the threads the system mailboxes filed the message or
its conversation on (their thread map, :mod:`shared.state.threads`) and, read by the caller, the
ERP records the engine's e-mail links point at.

A filing document lists the records the conversation was filed to, newest first, each once, the
time it was first filed (``filed_at``) and the messages filed (``messages``: internetMessageIds).
The engine reads it (:mod:`shared.sync.follow`): later replies in the conversation that it syncs
are filed to the newest record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.errors import AlreadyExists, ConcurrencyConflict
from shared.ports import CrmRecord, DocumentStore
from shared.state.threads import ThreadMap
from shared.sync.follow import KIND, filing_key

MAX_TARGETS = 20
MAX_MESSAGES = 200  # internetMessageIds remembered as filed


async def filed_to(store: DocumentStore, mailbox: str, conversation_id: str) -> list[dict[str, Any]]:
    if not conversation_id:
        return []
    stored = await store.get_doc(KIND, filing_key(mailbox, conversation_id))
    targets = stored.value.get("targets") if stored else None
    return list(targets) if isinstance(targets, list) else []


async def system_threads(store: DocumentStore, system_mailboxes: list[str], internet_message_id: str,
                         conversation_id: str) -> list[tuple[str, str, str]]:
    """(kind, record NoteID, system mailbox) of each system mailbox's thread for this message (by its
    internetMessageId) or else its conversation; unassigned threads are left out."""
    threads = ThreadMap(store)
    found: list[tuple[str, str, str]] = []
    for box in system_mailboxes:
        message = await threads.message(box, internet_message_id) if internet_message_id else None
        thread = (message or {}).get("thread") or await threads.conversation(box, conversation_id) or {}
        kind, record_id = thread.get("kind"), thread.get("record_id")
        if isinstance(kind, str) and isinstance(record_id, str) and record_id and kind != "none":
            found.append((kind, record_id, box))
    return found


async def remember(store: DocumentStore, mailbox: str, conversation_id: str, record: CrmRecord, *,
                   by: str, at: datetime, message: str = "") -> None:
    """Add ``record`` (and the filed ``message``'s id) to the conversation's filing; retries once on a
    concurrent change."""
    if not conversation_id:
        return
    key = filing_key(mailbox, conversation_id)
    entry = {"kind": record.kind, "id": record.id, "key": record.number, "title": record.title,
             "by": by, "at": at.isoformat()}
    for attempt in range(2):
        stored = await store.get_doc(KIND, key)
        targets = [t for t in (stored.value.get("targets", []) if stored else [])
                   if not (t.get("kind") == entry["kind"] and t.get("id") == entry["id"])]
        old = stored.value if stored else {}
        messages = [m for m in old.get("messages", []) if m != message]
        value = {"mailbox": mailbox.lower(), "conversation_id": conversation_id,
                 "filed_at": old.get("filed_at") or at.isoformat(),
                 "targets": [entry, *targets][:MAX_TARGETS],
                 "messages": ([message] if message else []) + messages[:MAX_MESSAGES - 1]}
        try:
            await store.put_doc(KIND, key, value, stored.etag if stored else None)
            return
        except (ConcurrencyConflict, AlreadyExists):
            if attempt:
                raise
