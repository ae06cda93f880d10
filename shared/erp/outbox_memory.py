"""In-memory twin of :class:`shared.erp.outbox.AcumaticaOutbox` (same contract suite, ``tests/contract``).

Holds outgoing e-mails with their status, files and failure reason, incoming e-mails' Message-IDs
(parents), and enforces the simulator's status rule: a Processed e-mail stays processed.
``fail_next_writes`` makes that many status writes raise (a crash between the send and the ERP
update); ``writes`` counts status writes.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from shared.errors import NotFound, RemoteError, ValidationFailed
from shared.ports import AttachmentContent, OutgoingMail

PENDING, PROCESSED, FAILED = "Pending Processing", "Processed", "Failed"


class InMemoryOutbox:
    def __init__(self) -> None:
        self.mails: dict[str, OutgoingMail] = {}
        self.files: dict[str, tuple[AttachmentContent, ...]] = {}
        self.reasons: dict[str, str] = {}
        self.parents: dict[str, str] = {}  # incoming e-mail id -> internetMessageId
        self.changed_at: dict[str, datetime] = {}
        self.writes = 0
        self.fail_next_writes = 0

    def queue(self, mail: OutgoingMail, files: tuple[AttachmentContent, ...] = ()) -> OutgoingMail:
        """Queue an e-mail the way the ERP does (status Pending Processing)."""
        queued = dataclasses.replace(mail, status=PENDING, created_at=mail.created_at or datetime.now(UTC))
        self.mails[queued.id] = queued
        self.files[queued.id] = files
        return queued

    async def pending(self, account_id: int, limit: int) -> list[OutgoingMail]:
        found = [m for m in self.mails.values() if m.status == PENDING and m.account_id == account_id]
        return sorted(found, key=lambda m: m.created_at or datetime.min.replace(tzinfo=UTC))[:limit]

    async def get_outgoing(self, mail_id: str) -> OutgoingMail | None:
        return self.mails.get(mail_id)

    async def parent_message_id(self, mail_id: str) -> str | None:
        return self.parents.get(mail_id)

    async def read_files(self, mail_id: str) -> tuple[AttachmentContent, ...]:
        if mail_id not in self.mails:
            raise NotFound(f"e-mail {mail_id} no longer exists in the ERP")
        return self.files.get(mail_id, ())

    def _set(self, mail_id: str, status: str) -> None:
        mail = self.mails.get(mail_id)
        if mail is None:
            raise NotFound(f"e-mail {mail_id} no longer exists in the ERP")
        if self.fail_next_writes:
            self.fail_next_writes -= 1
            raise RemoteError("injected failure of an ERP status write")
        if mail.status == PROCESSED and status != PROCESSED:
            raise ValidationFailed({"MailStatus": f"an e-mail cannot change from '{PROCESSED}' to '{status}'"})
        self.mails[mail_id] = dataclasses.replace(mail, status=status)
        self.changed_at[mail_id] = datetime.now(UTC)
        self.writes += 1

    async def mark_processed(self, mail_id: str) -> None:
        self._set(mail_id, PROCESSED)

    async def mark_failed(self, mail_id: str, reason: str) -> None:
        self._set(mail_id, FAILED)
        self.reasons[mail_id] = reason

    async def processed_since(self, account_id: int, since: datetime) -> list[str]:
        return [i for i, m in self.mails.items() if m.account_id == account_id and m.status == PROCESSED
                and self.changed_at.get(i, since) > since]
