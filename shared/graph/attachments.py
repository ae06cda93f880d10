"""Message attachments: read them back, write them inline (up to 3 MB) or through upload sessions.

Owns the size rules: attachments above the server's maximum are skipped (and counted in the
log), up to 3 MB go inline as fileAttachment, larger ones through ``createUploadSession`` and
byte ranges of < 4 MiB (a multiple of 320 KiB) PUT to the pre-authenticated upload URL.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence

from kiota_abstractions.method import Method
from msgraph.generated.models.attachment_collection_response import AttachmentCollectionResponse
from msgraph.generated.models.attachment_item import AttachmentItem
from msgraph.generated.models.attachment_type import AttachmentType
from msgraph.generated.models.file_attachment import FileAttachment
from msgraph.generated.models.upload_session import UploadSession
from msgraph.generated.users.item.messages.item.attachments.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
    CreateUploadSessionPostRequestBody,
)

from shared.domain.records import Attachment
from shared.errors import RemoteError
from shared.graph.client import GraphHttp
from shared.graph.wire import action_json, seg
from shared.ports import AttachmentContent

logger = logging.getLogger(__name__)

INLINE_ATTACHMENT_LIMIT = 3 * 1024 * 1024
UPLOAD_CHUNK = 4 * 1024 * 1024 - (4 * 1024 * 1024) % (320 * 1024)  # multiple of 320 KiB, < 4 MiB


class Attachments:
    """Reads and writes the attachments of messages in a mailbox."""

    def __init__(self, http: GraphHttp, max_attachment_bytes: int) -> None:
        self.http = http
        self.max_attachment_bytes = max_attachment_bytes

    async def read(self, mailbox: str, item_id: str,
                               max_bytes: int) -> tuple[AttachmentContent, ...]:
        path = f"/users/{seg(mailbox)}/messages/{seg(item_id)}/attachments"
        out: list[AttachmentContent] = []
        skipped = 0
        async for attachment in self.http.pages(mailbox, path, AttachmentCollectionResponse):
            if not isinstance(attachment, FileAttachment):
                continue
            if (attachment.size or 0) > max_bytes:
                skipped += 1
                continue
            content = attachment.content_bytes
            if content is None and attachment.id:
                content = await self.http.send_bytes(self.http.request(
                    Method.GET, f"{path}/{seg(attachment.id)}/$value", mailbox))
            content = content or b""
            if len(content) > max_bytes:
                skipped += 1
                continue
            meta = Attachment(name=attachment.name or "attachment", size=len(content),
                              content_type=attachment.content_type or "application/octet-stream",
                              content_hash=hashlib.sha256(content).hexdigest())
            out.append(AttachmentContent(meta, content))
        if skipped:
            logger.info("skipped %d attachments of a message above %d KB", skipped, max_bytes // 1024)
        return tuple(out)


    async def attach_all(self, mailbox: str, message_id: str, files: Sequence[AttachmentContent]) -> None:
        skipped = 0
        for file in files:
            if len(file.content) > self.max_attachment_bytes:
                skipped += 1
                continue
            if len(file.content) <= INLINE_ATTACHMENT_LIMIT:
                await self._attach_inline(mailbox, message_id, file)
            else:
                await self._attach_by_session(mailbox, message_id, file)
        if skipped:
            logger.info("skipped %d attachments above %d KB", skipped, self.max_attachment_bytes // 1024)

    async def _attach_inline(self, mailbox: str, message_id: str, file: AttachmentContent) -> None:
        body = FileAttachment(name=file.meta.name, content_type=file.meta.content_type,
                              content_bytes=file.content)
        path = f"/users/{seg(mailbox)}/messages/{seg(message_id)}/attachments"
        await self.http.send(self.http.request(Method.POST, path, mailbox, body=body),
                             FileAttachment)

    async def _attach_by_session(self, mailbox: str, message_id: str, file: AttachmentContent) -> None:
        item = AttachmentItem(attachment_type=AttachmentType.File, name=file.meta.name,
                              size=len(file.content), content_type=file.meta.content_type)
        path = f"/users/{seg(mailbox)}/messages/{seg(message_id)}/attachments/createUploadSession"
        body = json.dumps(action_json(CreateUploadSessionPostRequestBody(attachment_item=item))).encode()
        session = await self.http.send(self.http.request(Method.POST, path, mailbox, raw_body=body),
                                       UploadSession)
        if session is None or not session.upload_url:
            raise RemoteError("createUploadSession answered without an uploadUrl")
        total = len(file.content)
        for start in range(0, total, UPLOAD_CHUNK):
            chunk = file.content[start:start + UPLOAD_CHUNK]
            response = await self.http.put_chunk(session.upload_url, chunk, start, total)
            if response.status_code >= 400:
                raise RemoteError(f"upload of {file.meta.name} failed at byte {start}: "
                                  f"HTTP {response.status_code}", status=response.status_code)


