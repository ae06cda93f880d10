"""Automatic replies of system mailboxes: templates filled in, built as MIME so the customer's client
threads them (``In-Reply-To`` / ``References`` of the original) and no auto-responder answers them
(``Auto-Submitted: auto-generated``, ``X-Auto-Response-Suppress: All``). Pure: bytes out, no I/O."""

from __future__ import annotations

import email.policy
import email.utils
import uuid
from datetime import datetime
from email.message import EmailMessage

from shared.mailproc.model import Template
from shared.ports import InboxMessage


def tag(prefix: str, case_id: str | None) -> str:
    """The subject tag ``[<prefix>#<case id>]`` ('' without a case)."""
    return f"[{prefix}#{case_id}]" if case_id else ""


def fill(text: str, *, case_id: str | None, subject: str, sender_name: str) -> str:
    return (text.replace("{case_id}", case_id or "").replace("{subject}", subject)
            .replace("{sender_name}", sender_name))


def new_message_id(mailbox: str) -> str:
    return f"<exsync.{uuid.uuid4().hex}@{mailbox.split('@')[-1]}>"


def build(original: InboxMessage, template: Template, *, mailbox: str, display_name: str, prefix: str,
          case_id: str | None, message_id: str, now: datetime, reply_to: str | None = None) -> bytes:
    """The reply as RFC 5322 bytes (text/plain, UTF-8)."""
    name = original.sender_name or original.sender
    subject = fill(template.subject, case_id=case_id, subject=original.subject, sender_name=name)
    marker = tag(prefix, case_id)
    if marker and marker.lower() not in subject.lower():
        subject = f"{subject} {marker}"
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = email.utils.formataddr((display_name, mailbox)) if display_name else mailbox
    message["To"] = email.utils.formataddr((original.sender_name, original.sender))
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = message_id
    if original.internet_message_id:
        references = " ".join(filter(None, [original.headers.get("references", ""), original.internet_message_id]))
        message["In-Reply-To"] = original.internet_message_id
        message["References"] = references
    if reply_to:
        message["Reply-To"] = reply_to
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(fill(template.body, case_id=case_id, subject=original.subject, sender_name=name))
    return message.as_bytes()
