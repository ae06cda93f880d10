"""The bookkeeping of transactional mail on the DocumentStore: intent rows, quota, status.

- ``mailsend_intent`` ``<mailbox>|<erp id>``: the :class:`~shared.mailsend.decide.Attempt` of a mail,
  written (conditionally, with its ETag) *before* each send, so a second worker loses the race and
  the run after a crash knows to look in Sent Items first. Deleted once the ERP shows the outcome.
- ``mailsend_quota`` ``<mailbox>``: :class:`~shared.mailsend.quota.Quota`.
- ``mailsend_status`` ``<mailbox>``: what the last run did and the quota used (the status API and the
  console read it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.errors import AlreadyExists, ConcurrencyConflict
from shared.mailsend.decide import Attempt, Phase
from shared.mailsend.quota import KIND as QUOTA
from shared.mailsend.quota import Quota
from shared.ports import DocumentStore

INTENTS, STATUS = "mailsend_intent", "mailsend_status"


def _key(mailbox: str, mail_id: str) -> str:
    return f"{mailbox.lower()}|{mail_id.lower()}"


def _attempt(value: dict[str, Any]) -> Attempt:
    next_at = value.get("next_at")
    return Attempt(Phase(value["phase"]), int(value["attempts"]), datetime.fromisoformat(value["at"]),
                   datetime.fromisoformat(next_at) if next_at else None, str(value.get("error") or ""))


def _value(attempt: Attempt) -> dict[str, Any]:
    return {"phase": attempt.phase.value, "attempts": attempt.attempts, "at": attempt.at.isoformat(),
            "next_at": attempt.next_at.isoformat() if attempt.next_at else None, "error": attempt.error}


class Ledger:
    """Intent rows, quota and status of the system mailboxes (see the module docstring)."""

    def __init__(self, docs: DocumentStore) -> None:
        self.docs = docs

    async def attempt(self, mailbox: str, mail_id: str) -> tuple[Attempt | None, str | None]:
        """The mail's intent row and its ETag (None, None: no earlier attempt)."""
        doc = await self.docs.get_doc(INTENTS, _key(mailbox, mail_id))
        return (_attempt(doc.value), doc.etag) if doc else (None, None)

    async def write(self, mailbox: str, mail_id: str, attempt: Attempt, etag: str | None) -> str | None:
        """Write the intent row if nobody else did meanwhile: its new ETag, or None (another worker)."""
        try:
            return await self.docs.put_doc(INTENTS, _key(mailbox, mail_id), _value(attempt), etag)
        except (AlreadyExists, ConcurrencyConflict):
            return None

    async def forget(self, mailbox: str, mail_id: str) -> None:
        await self.docs.delete_doc(INTENTS, _key(mailbox, mail_id))

    async def open_intents(self, mailbox: str) -> list[str]:
        """ERP ids of the mailbox's mails with an intent row."""
        prefix = f"{mailbox.lower()}|"
        return [key[len(prefix):] for key, _ in await self.docs.list_docs(INTENTS, prefix)]

    async def quota(self, mailbox: str) -> Quota:
        doc = await self.docs.get_doc(QUOTA, mailbox.lower())
        return Quota.from_doc(doc.value if doc else None)

    async def save_quota(self, mailbox: str, quota: Quota) -> None:
        await self.docs.put_doc(QUOTA, mailbox.lower(), quota.to_doc(), force=True)

    async def status(self, mailbox: str) -> dict[str, Any] | None:
        doc = await self.docs.get_doc(STATUS, mailbox.lower())
        return doc.value if doc else None

    async def save_status(self, mailbox: str, value: dict[str, Any]) -> None:
        await self.docs.put_doc(STATUS, mailbox.lower(), value, force=True)
