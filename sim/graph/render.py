"""How stored items look on the wire: every property of the type, ids per ``Prefer: IdType``,
``@odata.etag`` = ``W/"<changeKey>"``, computed fields, ``$select`` and ``$expand``."""

from __future__ import annotations

import dataclasses
import html
import re
from typing import Any

from sim.graph import odata, schema
from sim.graph.call import Call
from sim.graph.store import Item, Mailbox
from sim.graph.times import render_times


@dataclasses.dataclass(frozen=True)
class Kind:
    type_name: str
    change_key: bool
    etag: bool


KINDS = {
    "contact": Kind("contact", True, True),
    "contactFolder": Kind("contactFolder", False, False),
    "message": Kind("message", True, True),
    "mailFolder": Kind("mailFolder", False, False),
    "event": Kind("event", True, True),
    "calendar": Kind("calendar", True, True),
    "todoTask": Kind("todoTask", False, True),
    "todoTaskList": Kind("todoTaskList", False, True),
    "linkedResource": Kind("linkedResource", False, False),
    "outlookCategory": Kind("outlookCategory", False, False),
    "attachment": Kind("fileAttachment", False, False),
}
_TAGS = re.compile(r"<[^>]+>")


def check_select(kind: str, select: list[str] | None) -> list[str] | None:
    """400 like Graph for a ``$select`` naming a property the type does not have."""
    if not select:
        return select
    type_name = KINDS[kind].type_name
    info = schema.type_info(type_name)
    known = {name.lower() for name in (*info["properties"], *info["navigation"])}
    for name in select:
        if name.lower() not in known:
            from sim.graph.errors import GraphError
            raise GraphError(400, "RequestBroker--ParseUri",
                             f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'.")
    return select


def etag(item: Item) -> str:
    return f'W/"{item.change_key}"'


def render(item: Item, call: Call, mailbox: Mailbox, select: list[str] | None = None,
           expand: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    kind = KINDS[item.kind]
    type_name = item.data.get("@odata.type", "").lstrip("#") or kind.type_name
    row: dict[str, Any] = {}
    if kind.etag:
        row["@odata.etag"] = etag(item)
    if item.kind == "attachment":
        row["@odata.type"] = "#" + schema.full(type_name)
    row.update(schema.empty_instance(type_name))
    row.update({k: v for k, v in item.data.items() if not k.startswith("@")})
    if not select:
        row.pop("internetMessageHeaders", None)  # Graph returns headers only when $select names them
    row["id"] = item.ident(call.immutable)
    _timestamps(row, item)
    if kind.change_key:
        row["changeKey"] = item.change_key
    _computed(row, item, mailbox, call)
    row = odata.apply_select(row, select)
    for name, options in (expand or {}).items():
        row.update(_expand(name, options, item, mailbox, call))
    return row


def _timestamps(row: dict[str, Any], item: Item) -> None:
    if "createdDateTime" in row:
        row["createdDateTime"] = item.created
    if "lastModifiedDateTime" in row:
        row["lastModifiedDateTime"] = item.modified
    if "bodyLastModifiedDateTime" in row:
        row["bodyLastModifiedDateTime"] = item.data.get("bodyLastModifiedDateTime") or item.modified


def _computed(row: dict[str, Any], item: Item, mailbox: Mailbox, call: Call) -> None:
    if item.kind in {"contact", "message"}:
        row["parentFolderId"] = item.container
    if item.kind == "contactFolder":
        row["parentFolderId"] = None if item.container == "root" else item.container
    if item.kind == "mailFolder":
        children = mailbox.in_container("message", item.iid)
        row["parentFolderId"] = item.container
        row["childFolderCount"] = len(mailbox.in_container("mailFolder", item.iid))
        row["totalItemCount"] = len(children)
        row["unreadItemCount"] = sum(1 for m in children if not m.data.get("isRead"))
    if item.kind == "message":
        body = (item.data.get("body") or {}).get("content") or ""
        row["bodyPreview"] = " ".join(_TAGS.sub(" ", body).split())[:255]
        row["hasAttachments"] = bool(mailbox.in_container("attachment", item.iid))
    if item.kind in {"todoTask"}:
        row["hasAttachments"] = bool(mailbox.in_container("attachment", item.iid))
    if item.kind == "event":
        render_times(row, item, call)
    if item.kind in {"message", "event"} and isinstance(row.get("body"), dict):
        row["body"] = body_as_preferred(row["body"], call.body_type)


def body_as_preferred(body: dict[str, Any], wanted: str | None) -> dict[str, Any]:
    """``Prefer: outlook.body-content-type``: HTML bodies as text, or text bodies as HTML."""
    kind = str(body.get("contentType") or "text").lower()
    content = str(body.get("content") or "")
    if wanted == "text" and kind == "html":
        text = re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>", "", content)
        text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
        text = html.unescape(_TAGS.sub("", text))
        lines = [" ".join(line.split()) for line in text.splitlines()]
        return {"contentType": "text", "content": "\n".join(line for line in lines if line).strip()}
    if wanted == "html" and kind == "text":
        escaped = html.escape(content).replace("\n", "<br>")
        return {"contentType": "html", "content": f"<html><body>{escaped}</body></html>"}
    return body


def _expand(name: str, options: dict[str, str], item: Item, mailbox: Mailbox, call: Call) -> dict[str, Any]:
    pred = odata.parse_filter(options.get("$filter"))
    if name == "singlevalueextendedproperties":
        values = [{"id": ident, "value": value} for ident, value in item.ext.values()]
        return {"singleValueExtendedProperties": [v for v in values if pred is None or pred(v)]}
    child_kind = {"attachments": "attachment", "linkedresources": "linkedResource"}.get(name)
    if child_kind is None:
        from sim.graph.errors import GraphError
        raise GraphError(400, "BadRequest", f"Could not find a property named '{name}' on type "
                         f"'microsoft.graph.{KINDS[item.kind].type_name}'.")
    rows = [render(child, call, mailbox) for child in mailbox.in_container(child_kind, item.iid)]
    key = "attachments" if child_kind == "attachment" else "linkedResources"
    return {key: [r for r in rows if pred is None or pred(r)]}


def filter_row(item: Item, call: Call, mailbox: Mailbox) -> dict[str, Any]:
    """The row a ``$filter`` sees: stored properties, ids, timestamps, extended properties, links.

    Cheaper than :func:`render` (no schema defaults): a filter over thousands of items stays fast.
    """
    row = dict(item.data)
    row["id"] = item.ident(call.immutable)
    row["changeKey"] = item.change_key
    row["createdDateTime"] = item.created
    row["lastModifiedDateTime"] = item.modified
    row["parentFolderId"] = item.container
    row["singleValueExtendedProperties"] = [{"id": i, "value": v} for i, v in item.ext.values()]
    row["categories"] = row.get("categories") or []
    if item.kind == "todoTask":
        row["linkedResources"] = [dict(c.data, id=c.iid) for c in mailbox.in_container("linkedResource", item.iid)]
    return row
