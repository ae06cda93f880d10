"""``OutboxGateway`` for Acumatica (Default/24.200.001): outgoing e-mail queued for system accounts.

Acumatica queues ERP mail (invoices, notifications, an agent's answer) as Email activities with
``MailStatus`` "Pending Processing" and ``FromEmailAccountID`` naming the system e-mail account.
exsync lists them per account, sends them through Graph and writes "Processed" (or "Failed" with
the reason as a tagged line of the note: the contract API has no field for a send error). An
e-mail answering an incoming one has that e-mail as its ``Parent``; exsync filed the incoming one
with its Message-ID in the note (:mod:`shared.erp.crm`), which is how a reply finds the original.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from shared.erp import mapping
from shared.erp.crm_kinds import RELATED_KINDS
from shared.erp.session import AcumaticaSession, error_message
from shared.errors import NotFound, RemoteError, ValidationFailed
from shared.ports import AttachmentContent, OutgoingMail

PENDING, PROCESSED, FAILED = "Pending Processing", "Processed", "Failed"
ERROR_TAG = "exsync-send-error:"
KINDS = RELATED_KINDS
FIELDS = ("NoteID,Subject,Body,To,Cc,Bcc,MailStatus,FromEmailAccountID,Parent,RelatedEntityType,"
          "RelatedEntityNoteID,Owner,Incoming,CreatedDateTime")


def outgoing_from_entity(entity: Mapping[str, Any]) -> OutgoingMail:
    """An Email entity (wrapped values) as an :class:`OutgoingMail`."""
    related_type, related_id = mapping.value(entity, "RelatedEntityType"), mapping.value(entity, "RelatedEntityNoteID")
    kind = KINDS.get(str(related_type), str(related_type).rsplit(".", 1)[-1].lower()) if related_type else None
    parent = mapping.value(entity, "Parent")
    return OutgoingMail(
        id=str(entity.get("id") or mapping.value(entity, "NoteID")).lower(),
        account_id=int(mapping.value(entity, "FromEmailAccountID") or 0), status=mapping.text(entity, "MailStatus"),
        subject=mapping.text(entity, "Subject"), body=mapping.text(entity, "Body"),
        to=mapping.split_addresses(mapping.text(entity, "To")), cc=mapping.split_addresses(mapping.text(entity, "Cc")),
        bcc=mapping.split_addresses(mapping.text(entity, "Bcc")), parent_id=str(parent).lower() if parent else None,
        related=(kind, str(related_id).lower()) if kind and related_id else None,
        owner=mapping.value(entity, "Owner") or None, created_at=mapping.parse_time(mapping.value(entity,
                                                                                                "CreatedDateTime")))


class AcumaticaOutbox:
    """The outbox port on an Acumatica session (shared with the sync and the system mailboxes)."""

    def __init__(self, session: AcumaticaSession, endpoint: str = "Default/24.200.001") -> None:
        self._session = session
        self._path = f"/entity/{endpoint.strip('/')}/Email"

    async def _get(self, path: str, params: Mapping[str, str]) -> Any:
        response = await self._session.request("GET", path, params=params)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise RemoteError(f"Acumatica GET Email answered {response.status_code}: {error_message(response)}",
                              status=response.status_code)
        return response.json()

    async def pending(self, account_id: int, limit: int) -> list[OutgoingMail]:
        query = {"$filter": f"MailStatus eq '{PENDING}' and FromEmailAccountID eq {int(account_id)}",
                 "$select": FIELDS, "$top": str(limit)}
        rows = await self._get(self._path, query) or []
        mails = [outgoing_from_entity(row) for row in rows]
        return sorted(mails, key=lambda m: (m.created_at is None, m.created_at or datetime.min))

    async def get_outgoing(self, mail_id: str) -> OutgoingMail | None:
        row = await self._get(f"{self._path}/{quote(mail_id, safe='')}", {"$select": FIELDS})
        return outgoing_from_entity(row) if row else None

    async def parent_message_id(self, mail_id: str) -> str | None:
        row = await self._get(f"{self._path}/{quote(mail_id, safe='')}", {"$select": "NoteID,Incoming"})
        if not row or not mapping.value(row, "Incoming"):
            return None
        return mapping.meta_from_note(mapping.note_text(row)).get("message_id")

    async def read_files(self, mail_id: str) -> tuple[AttachmentContent, ...]:
        row = await self._get(f"{self._path}/{quote(mail_id, safe='')}", {"$expand": "files", "$select": "NoteID"})
        if row is None:
            raise NotFound(f"e-mail {mail_id} no longer exists in the ERP")
        out: list[AttachmentContent] = []
        for link in row.get("files") or []:
            response = await self._session.request("GET", str(link.get("href", "")))
            if response.status_code >= 400:
                raise RemoteError(f"Acumatica GET file answered {response.status_code}", status=response.status_code)
            name = mapping.file_name(link)
            out.append(AttachmentContent(mapping.attachment_meta(name, response.content), response.content))
        return tuple(out)

    async def _put(self, body: dict[str, Any]) -> None:
        response = await self._session.request("PUT", self._path, json=body, headers={"If-Match": "*"},
                                               params={"$select": "NoteID"})
        if response.status_code == 412:
            raise NotFound(f"e-mail {body['id']} no longer exists in the ERP")
        if response.status_code == 422:
            raise ValidationFailed({"MailStatus": error_message(response)})
        if response.status_code >= 400:
            raise RemoteError(f"Acumatica PUT Email answered {response.status_code}: {error_message(response)}",
                              status=response.status_code)

    async def mark_processed(self, mail_id: str) -> None:
        await self._put({"id": mail_id, "MailStatus": {"value": PROCESSED}})

    async def mark_failed(self, mail_id: str, reason: str) -> None:
        row = await self._get(f"{self._path}/{quote(mail_id, safe='')}", {"$select": "NoteID"})
        kept = [line for line in mapping.note_text(row or {}).splitlines() if not line.startswith(ERROR_TAG)]
        note = "\n".join([*kept, f"{ERROR_TAG} {reason}"])
        await self._put({"id": mail_id, "MailStatus": {"value": FAILED}, "note": {"value": note}})

    async def processed_since(self, account_id: int, since: datetime) -> list[str]:
        moment = since.isoformat(timespec="milliseconds")
        query = {"$filter": f"MailStatus eq '{PROCESSED}' and FromEmailAccountID eq {int(account_id)} and "
                            f"LastModifiedDateTime gt datetimeoffset'{moment}'", "$select": "NoteID"}
        return [str(row.get("id")).lower() for row in await self._get(self._path, query) or []]
