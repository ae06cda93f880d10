"""The message the pane shows, read through Graph with the app's permissions (the pane never
uploads mail content): by REST id, or by internetMessageId when the id is unknown (compose, or an
id from another mailbox view). Also the ERP ids the engine stamped on the other messages of its
conversation."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from kiota_abstractions.method import Method
from msgraph.generated.models.message import Message
from msgraph.generated.models.message_collection_response import MessageCollectionResponse

from shared.domain.records import EmailMessage
from shared.errors import ConfigurationError, NotFound, ValidationFailed
from shared.graph import mapping
from shared.graph.client import GraphHttp
from shared.graph.wire import seg
from shared.ports import MailboxGateway

SELECT = ("id,internetMessageId,conversationId,subject,from,toRecipients,ccRecipients,sentDateTime,"
          "receivedDateTime,body,hasAttachments,parentFolderId")
BODY_TEXT = 'outlook.body-content-type="text"'
MAX_BODY = 20000  # characters kept for prefilling a case description


@dataclasses.dataclass(frozen=True)
class Person:
    address: str
    name: str


@dataclasses.dataclass(frozen=True)
class MailView:
    id: str
    internet_message_id: str
    conversation_id: str
    subject: str
    sender: Person | None
    to: tuple[Person, ...]
    cc: tuple[Person, ...]
    sent_at: datetime | None
    body: str
    has_attachments: bool
    stamp: str | None  # ERP Email id the engine stamped on the item, if any

    def addresses(self) -> tuple[str, ...]:
        people = ([self.sender] if self.sender else []) + list(self.to) + list(self.cc)
        return tuple(dict.fromkeys(p.address for p in people if p.address))

    def as_email(self, mailbox: str) -> EmailMessage:
        """The mail as an ERP e-mail activity of ``mailbox`` (incoming unless the mailbox sent it)."""
        sender = self.sender.address if self.sender else ""
        return EmailMessage(subject=self.subject, body=self.body, from_address=sender,
                            to=tuple(p.address for p in self.to), cc=tuple(p.address for p in self.cc),
                            sent_at=self.sent_at, incoming=sender != mailbox.lower(),
                            internet_message_id=self.internet_message_id)

    def summary(self) -> dict[str, Any]:
        """What the pane shows: no body."""
        def person(p: Person | None) -> dict[str, str] | None:
            return None if p is None else {"address": p.address, "name": p.name}

        return {"id": self.id, "internet_message_id": self.internet_message_id,
                "conversation_id": self.conversation_id, "subject": self.subject,
                "from": person(self.sender), "to": [person(p) for p in self.to],
                "cc": [person(p) for p in self.cc],
                "sent_at": self.sent_at.isoformat() if self.sent_at else None,
                "has_attachments": self.has_attachments}


def graph_http(gateway: MailboxGateway) -> GraphHttp:
    """The gateway's Graph client (same pacing per mailbox as the engine's calls)."""
    http = getattr(gateway, "http", None)
    if not isinstance(http, GraphHttp):
        raise ConfigurationError("the add-in needs the Graph gateway (msgraph-sdk); this runtime has another")
    return http


def _person(recipient: Any) -> Person | None:
    address = getattr(recipient, "email_address", None) if recipient is not None else None
    if address is None or not address.address:
        return None
    return Person(str(address.address).lower(), str(address.name or address.address))


def _people(recipients: Any) -> tuple[Person, ...]:
    return tuple(p for p in (_person(r) for r in recipients or ()) if p is not None)


def view_of(model: Message) -> MailView:
    body = model.body.content if model.body is not None and model.body.content else ""
    stamp = mapping.read_stamp(model)
    return MailView(
        id=str(model.id), internet_message_id=str(model.internet_message_id or ""),
        conversation_id=str(model.conversation_id or ""), subject=str(model.subject or ""),
        sender=_person(model.from_), to=_people(model.to_recipients), cc=_people(model.cc_recipients),
        sent_at=model.sent_date_time or model.received_date_time, body=body[:MAX_BODY],
        has_attachments=bool(model.has_attachments), stamp=stamp)


async def read_message(http: GraphHttp, mailbox: str, *, rest_id: str | None,
                       internet_message_id: str | None) -> MailView:
    """The message by REST id (preferred) or internetMessageId; NotFound names what was looked up."""
    query = {"$select": SELECT, "$expand": mapping.STAMP_EXPAND}
    if rest_id:
        info = http.request(Method.GET, f"/users/{seg(mailbox)}/messages/{seg(rest_id)}", mailbox,
                            query=query, prefer=(BODY_TEXT,))
        try:
            model = await http.send(info, Message)
        except NotFound:
            model = None
        if model is not None:
            return view_of(model)
        if not internet_message_id:
            raise NotFound(f"message {rest_id} is not in mailbox {mailbox}")
    if not internet_message_id:
        raise ValidationFailed({"id": "give the message's REST id or its internetMessageId"})
    wanted = internet_message_id.strip().replace("'", "''")
    info = http.request(Method.GET, f"/users/{seg(mailbox)}/messages", mailbox,
                        query={**query, "$filter": f"internetMessageId eq '{wanted}'", "$top": "1"},
                        prefer=(BODY_TEXT,))
    found = await http.send(info, MessageCollectionResponse)
    for model in (found.value if found is not None else None) or ():
        return view_of(model)
    raise NotFound(f"no message with internetMessageId {internet_message_id} in mailbox {mailbox}")


async def conversation_stamps(http: GraphHttp, mailbox: str, conversation_id: str, limit: int = 50) -> list[str]:
    """ERP Email ids the engine stamped on the conversation's messages in the mailbox (up to ``limit``)."""
    if not conversation_id:
        return []
    wanted = conversation_id.replace("'", "''")
    info = http.request(Method.GET, f"/users/{seg(mailbox)}/messages", mailbox,
                        query={"$filter": f"conversationId eq '{wanted}'", "$select": "id",
                               "$expand": mapping.STAMP_EXPAND, "$top": str(limit)})
    found = await http.send(info, MessageCollectionResponse)
    stamps = [mapping.read_stamp(m) for m in (found.value if found is not None else None) or ()]
    return list(dict.fromkeys(s for s in stamps if s))
