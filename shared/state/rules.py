"""Rules both state stores share: limits, input checks, cursors and the clock default.

Semantics every store keeps (the contract suite checks them):

- ``put_*(value, etag=None)`` creates only (AlreadyExists if the row exists); with an etag it
  replaces only that version (ConcurrencyConflict if the row changed or vanished); ``force=True``
  upserts. ``put_cursor`` has no ``force``: ``etag=None`` upserts there.
- ``delete_*`` with an etag deletes only that version; deleting a missing row is not an error.
- ``put_link`` with ``link.etag`` None inserts (AlreadyExists if the ERP id or the mailbox id is
  already linked); with an etag it replaces that version of the pair.
- ``put_links`` takes links of one mailbox and type (one partition) and writes them in
  transactions of at most 100 operations; a failing transaction raises after earlier ones were
  committed.
- Pages (links, log) come with opaque cursors; log pages are newest first and hide entries past
  their retention (``at + retention_days``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import timedelta

from shared.errors import ValidationFailed
from shared.ports import Intent, Link, SystemClock
from shared.state import codec

DEFAULT_RETENTION_DAYS = 30
MAX_PAGE_SIZE = 1000
MAX_BATCH_OPERATIONS = 100
"""Table Storage: a transaction holds at most 100 operations, all in one partition."""
MAX_BATCH_BYTES = 3_500_000
"""Table Storage: a transaction payload is at most 4 MiB; keep a margin for the envelope."""
CHUNK_CHARS = 16_000
"""One string property holds 64 KiB of UTF-16: 16 000 code points fit even if all are astral."""
MAX_CHUNKS = 14
"""A row is at most 1 MiB: 14 full chunks plus the other properties stay under it."""
MAX_TEXT_CHARS = CHUNK_CHARS * MAX_CHUNKS


UtcClock = SystemClock
"""The default clock of the stores: the app's one wall clock."""


def retention(days: int) -> timedelta:
    if not isinstance(days, int) or days < 1:
        raise ValidationFailed({"retention_days": f"must be a whole number of days ≥ 1, got {days!r}"})
    return timedelta(days=days)


def mailbox_key(email: str) -> str:
    """Mailbox addresses are case-insensitive (Mailbox.email is stored lower-case)."""
    return email.strip().lower()


def link_label(link: Link) -> str:
    return f"link {link.mailbox}/{link.record_type.value}/erp:{link.erp_id[:60]!r}"


def check_text_size(text: str, field: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationFailed({field: f"serialized size {len(text)} characters exceeds the "
                                       f"{MAX_TEXT_CHARS} a table row holds; store less (e.g. no bodies)"})


def checked_link_text(link: Link) -> str:
    text = codec.encode_link(link)
    check_text_size(text, "link.base")
    return text


def check_link_batch(links: Sequence[Link]) -> None:
    """One partition (mailbox and type) and no id twice, or ValidationFailed naming ``links``."""
    if not links:
        return
    first = links[0]
    erp_ids: set[str] = set()
    mailbox_ids: set[str] = set()
    for i, link in enumerate(links):
        if (link.mailbox, link.record_type) != (first.mailbox, first.record_type):
            raise ValidationFailed({f"links[{i}]": (
                f"mailbox/record_type {link.mailbox}/{link.record_type.value} differs from "
                f"{first.mailbox}/{first.record_type.value}: a batch is one partition; call put_links "
                "once per mailbox and record type")})
        if link.erp_id in erp_ids or link.mailbox_id in mailbox_ids:
            raise ValidationFailed({f"links[{i}]": "erp_id or mailbox_id appears twice in one batch; "
                                                   "pass each link once"})
        erp_ids.add(link.erp_id)
        mailbox_ids.add(link.mailbox_id)


MAX_ID_CHARS = 8000
"""Ids kept in a plain string property (document keys, lease keys and owners) stay under 32 K."""


def check_id(value: str, field: str) -> str:
    if len(value) > MAX_ID_CHARS:
        raise ValidationFailed({field: f"{len(value)} characters is longer than the {MAX_ID_CHARS} allowed; "
                                       "use a shorter key"})
    return value


def check_page_size(size: int, field: str) -> None:
    if not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed({field: f"must be between 1 and {MAX_PAGE_SIZE}, got {size!r}"})


def check_ttl(ttl_seconds: float) -> float:
    if not ttl_seconds > 0:
        raise ValidationFailed({"ttl_seconds": f"must be > 0 seconds, got {ttl_seconds!r}"})
    return float(ttl_seconds)


def encode_cursor(row_key: str) -> str:
    """An opaque page cursor for the position after ``row_key``."""
    return base64.urlsafe_b64encode(row_key.encode("ascii")).decode("ascii")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise ValidationFailed({"cursor": "not a cursor returned by this store; pass None to start over"}
                               ) from exc


def check_intent_batch(intents: Sequence[Intent]) -> None:
    """One partition (mailbox and type), no intent twice, none carrying an etag; else ValidationFailed."""
    seen: set[str] = set()
    for i, intent in enumerate(intents):
        if (intent.mailbox, intent.record_type) != (intents[0].mailbox, intents[0].record_type):
            raise ValidationFailed({f"intents[{i}]": "mailbox/record_type differs from the first intent's: a batch "
                                                     "is one partition; call once per mailbox and record type"})
        if intent.intent_id in seen:
            raise ValidationFailed({f"intents[{i}]": "intent_id appears twice in one batch; pass each intent once"})
        if intent.etag is not None:
            raise ValidationFailed({f"intents[{i}]": "a batch creates intents; this one is stored already (etag)"})
        seen.add(intent.intent_id)
