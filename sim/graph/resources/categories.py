"""``outlook/masterCategories``: displayName unique and immutable, color ``none`` or preset0..preset24."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.graph import items
from sim.graph.call import Call, Reply, no_content
from sim.graph.errors import GraphError
from sim.graph.router import Router

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim

CONTEXT = "outlook/masterCategories"


async def list_categories(call: Call, sim: Sim, user: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    found = mailbox.in_container("outlookCategory", None)
    if call.maxpagesize is None and "$top" not in call.query:
        call.query = {**call.query, "$top": str(max(1, len(found)))}
    return items.list_reply(call, mailbox, found, CONTEXT)


async def create_category(call: Call, sim: Sim, user: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    body = call.json_object()
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise GraphError(400, "ErrorInvalidRequest", "displayName is required to create a category.")
    if any(c.data.get("displayName", "").lower() == name.lower()
           for c in mailbox.in_container("outlookCategory", None)):
        raise GraphError(409, "ErrorDuplicateCategory", f"A category named '{name}' already exists.")
    item = items.create(call, sim, mailbox, "outlookCategory", None, {"color": "none"})
    return items.item_reply(call, mailbox, item, CONTEXT, 201)


async def category(call: Call, sim: Sim, user: str, ident: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = items.lookup(mailbox, "outlookCategory", ident)
    if call.method == "GET":
        return items.item_reply(call, mailbox, item, CONTEXT)
    if call.method == "PATCH":
        body = call.json_object()
        if "displayName" in body and body["displayName"] != item.data.get("displayName"):
            raise GraphError(400, "ErrorInvalidProperty", "The displayName of a category cannot be changed.")
        items.update(call, sim, mailbox, item, body)
        return items.item_reply(call, mailbox, item, CONTEXT)
    items.remove(call, sim, mailbox, item)
    return no_content()


def register(router: Router) -> None:
    router.add("GET", "users/{user}/outlook/masterCategories", list_categories)
    router.add("POST", "users/{user}/outlook/masterCategories", create_category)
    router.add("GET,PATCH,DELETE", "users/{user}/outlook/masterCategories/{ident}", category)
