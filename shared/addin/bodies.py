"""Request and response bodies of the add-in API (they also make its OpenAPI schemas)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageRef(_Body):
    """Which message: its REST id (``convertToRestId``) and/or its internetMessageId."""

    message_id: str | None = Field(None, max_length=400)
    internet_message_id: str | None = Field(None, max_length=1000)


class LogBody(MessageRef):
    target_kind: str = Field(description="contact, lead, case or opportunity")
    target_id: str = Field(min_length=1, max_length=64, description="the record's NoteID")
    attachments: bool = False


class CreateBody(MessageRef):
    kind: str = Field(description="contact, lead, case or opportunity")
    fields: dict[str, Any] = Field(default_factory=dict, description="fields overriding the prefill")
    log: bool = Field(True, description="also file the mail to the new record")


class RecordOut(BaseModel):
    kind: str
    id: str
    key: str
    title: str
    detail: str = ""
    link: str | None = None


class FiledOut(RecordOut):
    source: str = Field(description="addin (filed from the pane), system_mailbox (a system mailbox's thread) "
                                    "or sync (the engine's link)")


class MessageOut(BaseModel):
    user: dict[str, str]
    message: dict[str, Any]
    records: list[RecordOut]
    filed: list[FiledOut]
    prefill: dict[str, dict[str, Any]]
    can_file: list[str]
    max_attachment_kb: int


class LogOut(BaseModel):
    email_id: str
    created: bool
    target: RecordOut


class CreateOut(BaseModel):
    record: RecordOut
    created: bool
    logged: LogOut | None = None


class ConfigOut(BaseModel):
    client_id: str | None
    authority: str | None
    scopes: list[str]
    configured: bool


class LinkOut(BaseModel):
    url: str | None
    message: str | None = None
