"""Operations every item collection shares: list (filter, paging), create, update, delete, If-Match."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sim.graph import ids, odata, schema
from sim.graph.call import Call, Reply, ok
from sim.graph.errors import GraphError
from sim.graph.render import KINDS, check_select, etag, filter_row, render
from sim.graph.store import Item, Mailbox

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim

DEFAULT_PAGE = 10
READ_ONLY = {"id", "changeKey", "createdDateTime", "lastModifiedDateTime", "parentFolderId",
             "bodyPreview", "hasAttachments", "childFolderCount", "totalItemCount", "unreadItemCount",
             "bodyLastModifiedDateTime"}
CHILDREN = {"linkedResources": "linkedResource", "attachments": "attachment"}
_EXT_FILTER = re.compile(
    r"^\s*singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'((?:[^']|'')*)'\s+and\s+"
    r"\1/value\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$", re.I)
_EXT_ID = re.compile(
    r"^(String|Integer|Boolean|SystemTime|Long|Double|Float|Currency|Binary|CLSID|Short|Guid)(Array)?\s+"
    r"(\{[0-9a-f-]{36}\}\s+(Name\s+\S.*|Id\s+0x[0-9a-f]+)|0x[0-9a-f]{1,4})$", re.I)


def context_url(call: Call, mailbox: Mailbox | None, tail: str) -> str:
    owner = f"users('{mailbox.upn}')/" if mailbox else ""
    return f"{call.base_url}/v1.0/$metadata#{owner}{tail}"


def _stamp_lookup(text: str | None) -> tuple[str, str] | None:
    """``(id, value)`` when the filter is exactly the extended-property lookup (the hot path)."""
    match = _EXT_FILTER.match(text or "")
    if match is None:
        return None
    return match.group(2).replace("''", "'").lower(), match.group(3).replace("''", "'").lower()


def list_reply(call: Call, mailbox: Mailbox, items: list[Item], context: str,
               extra_filter: odata.Predicate | None = None) -> Reply:
    """A collection page: ``$filter``, ``$select``, ``$expand``, ``$top``/``$skip`` or maxpagesize."""
    lookup = _stamp_lookup(call.query.get("$filter"))
    pred = None if lookup else odata.parse_filter(call.query.get("$filter"))
    if lookup is not None:
        items = [i for i in items if (i.ext.get(lookup[0]) or ("", ""))[1].lower() == lookup[1]]
    if pred is not None or extra_filter is not None:
        rows = [(i, filter_row(i, call, mailbox)) for i in items]
        items = [i for i, row in rows if (pred is None or pred(row))
                 and (extra_filter is None or extra_filter(row))]
    if call.query.get("$orderby"):
        items = odata.order_by([(i, filter_row(i, call, mailbox)) for i in items], call.query["$orderby"])
    top = odata.int_option(call.query, "$top")
    skip = odata.int_option(call.query, "$skip") or 0
    size = top or call.maxpagesize or DEFAULT_PAGE
    page = items[skip:skip + size]
    select = odata.parse_select(call.query.get("$select"))
    if items:
        check_select(items[0].kind, select)
    expand = odata.parse_expand(call.query.get("$expand"))
    body: dict[str, Any] = {"@odata.context": context_url(call, mailbox, context),
                            "value": [render(i, call, mailbox, select, expand) for i in page]}
    if top is None and skip + size < len(items):
        params = {k: v for k, v in call.query.items() if k != "$skip"}
        params["$skip"] = str(skip + size)
        body["@odata.nextLink"] = call.link(**params)
    return ok(body)


def item_reply(call: Call, mailbox: Mailbox, item: Item, context: str, status: int = 200) -> Reply:
    select = check_select(item.kind, odata.parse_select(call.query.get("$select")))
    expand = odata.parse_expand(call.query.get("$expand"))
    row = {"@odata.context": context_url(call, mailbox, f"{context}/$entity"),
           **render(item, call, mailbox, select, expand)}
    headers = {"ETag": etag(item)} if KINDS[item.kind].etag else {}
    return Reply(status, row, headers)


def check_if_match(call: Call, item: Item) -> None:
    """412 when ``If-Match`` names another version of the item."""
    wanted = call.headers.get("If-Match")
    if not wanted or wanted.strip() == "*":
        return
    tags = {t.strip().removeprefix("W/").strip('"') for t in wanted.split(",")}
    if item.change_key not in tags:
        raise GraphError(412, "ErrorIrresolvableConflict",
                         "The change key passed in the request does not match the current change key "
                         "for the item.")


def _split(body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, list[Any]]]:
    data: dict[str, Any] = {}
    ext: list[dict[str, Any]] = []
    children: dict[str, list[Any]] = {}
    for key, value in body.items():
        if key == "singleValueExtendedProperties":
            ext = list(value or [])
        elif key in CHILDREN:
            children[key] = list(value or [])
        elif key in READ_ONLY or (key.startswith("@") and key != "@odata.type") or "@" in key[1:]:
            continue
        else:
            data[key] = value
    return data, ext, children


def apply_ext(item: Item, ext: list[dict[str, Any]]) -> None:
    for entry in ext:
        ident, value = str(entry.get("id", "")), entry.get("value")
        if not _EXT_ID.match(ident.strip()):
            raise GraphError(400, "ErrorInvalidProperty",
                             f"The extended property id '{ident}' is not valid; use e.g. "
                             "'String {00020329-0000-0000-C000-000000000046} Name MyProp' or 'Integer 0x0E07'.")
        if value is None:
            item.ext.pop(ident.lower(), None)
        else:
            item.ext[ident.lower()] = (ident, str(value))


def ext_value(item: Item, ident: str) -> str | None:
    found = item.ext.get(ident.lower())
    return found[1] if found else None


def create(call: Call, sim: Sim, mailbox: Mailbox, kind: str, container: str | None,
           defaults: dict[str, Any] | None = None, body: dict[str, Any] | None = None) -> Item:
    body = call.json_object() if body is None else body
    schema.validate(body, KINDS[kind].type_name if kind != "attachment" else "attachment")
    data, ext, children = _split(body)
    item = mailbox.add(kind, container, {**(defaults or {}), **data})
    apply_ext(item, ext)
    for key, values in children.items():
        for child in values:
            create(call, sim, mailbox, CHILDREN[key], item.iid, body=child)
    sim.changed(mailbox, item, "created")
    return item


def update(call: Call, sim: Sim, mailbox: Mailbox, item: Item, body: dict[str, Any] | None = None) -> None:
    body = call.json_object() if body is None else body
    schema.validate(body, KINDS[item.kind].type_name if item.kind != "attachment" else "attachment")
    check_if_match(call, item)
    data, ext, children = _split(body)
    if children:
        name = next(iter(children))
        raise GraphError(400, "BadRequest", f"Deep update of the navigation property '{name}' is not supported; "
                         f"change it through its own endpoint (.../{name}).")
    item.data.update(data)
    apply_ext(item, ext)
    if "body" in data:
        item.data["bodyLastModifiedDateTime"] = ids.stamp()
    mailbox.touch(item)
    sim.changed(mailbox, item, "updated")


def remove(call: Call, sim: Sim, mailbox: Mailbox, item: Item) -> None:
    check_if_match(call, item)
    mailbox.delete(item)
    sim.changed(mailbox, item, "deleted")


def lookup(mailbox: Mailbox, kind: str, ident: str, container: str | None = None) -> Item:
    item = mailbox.get(ident, kind)
    if item is None or (container is not None and item.container != container):
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return item
