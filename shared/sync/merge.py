"""Content fingerprints, change detection and the three-way field merge (pure).

A link's ``base`` holds one short fingerprint per normalized field, not the field values: the
merge only needs to know whether a side's field still equals the base, and the state store
then holds no record contents.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from shared.domain.records import Record
from shared.ports import ErpItem, Link, MailboxItem


def fingerprint(value: Any) -> str:
    """A short stable digest of one normalized (JSON-ready) field value."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def base_of(record: Record) -> dict[str, Any]:
    """The per-field fingerprints stored as a link's base snapshot."""
    return {name: fingerprint(value) for name, value in record.as_dict().items()}


def erp_changed(item: ErpItem[Any], link: Link) -> bool:
    """Changed since the link: a new version AND new content (a bare version bump is no change)."""
    return item.version != link.erp_version and item.record.content_hash() != link.erp_hash


def mailbox_changed(item: MailboxItem[Any], link: Link) -> bool:
    """Changed since the link: a new etag AND new content (echoes of our writes match the hash)."""
    return item.etag != link.mailbox_version and item.record.content_hash() != link.mailbox_hash


def same_content(a: Record, b: Record) -> bool:
    return a.content_hash() == b.content_hash()


def erp_is_newer(erp: ErpItem[Any], mailbox: MailboxItem[Any]) -> bool:
    """last_updated: the ERP wins ties (deterministic)."""
    return erp.modified_at >= mailbox.modified_at


def field_merge(erp: ErpItem[Any], mailbox: MailboxItem[Any], base: dict[str, Any]) -> tuple[Record, int]:
    """Three-way merge per field against ``base``; returns the merged record and how many
    fields changed on both sides (those take the newer side's value)."""
    erp_fields = erp.record.as_dict()
    mailbox_fields = mailbox.record.as_dict()
    mailbox_values = mailbox.record.field_values()
    take_mailbox: dict[str, Any] = {}
    both = 0
    erp_newer = erp_is_newer(erp, mailbox)
    for name, erp_value in erp_fields.items():
        fe, fm = fingerprint(erp_value), fingerprint(mailbox_fields[name])
        fb = base.get(name)
        if fe == fm or fm == fb:        # equal, or only the ERP changed this field
            continue
        if fe == fb:                    # only the mailbox changed this field
            take_mailbox[name] = mailbox_values[name]
            continue
        both += 1                       # changed on both sides: the newer side wins the field
        if not erp_newer:
            take_mailbox[name] = mailbox_values[name]
    merged: Record = erp.record.with_fields(take_mailbox) if take_mailbox else erp.record
    return merged, both
