"""Contact folders and contacts: ``/contacts``, ``/contactFolders/{id}/contacts``, per-folder delta."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.graph import items
from sim.graph.call import Call, Reply, no_content
from sim.graph.delta import delta_reply
from sim.graph.errors import GraphError
from sim.graph.router import Router
from sim.graph.store import Mailbox
from sim.graph.tenant import container_of

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim


def _folder(mailbox: Mailbox, folder: str | None) -> str:
    if folder is None:
        return mailbox.wellknown["contacts"]
    return container_of(mailbox, "contactFolder", folder).iid


async def list_contacts(call: Call, sim: Sim, user: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    container = _folder(mailbox, folder)
    return items.list_reply(call, mailbox, mailbox.in_container("contact", container), "contacts")


async def create_contact(call: Call, sim: Sim, user: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = items.create(call, sim, mailbox, "contact", _folder(mailbox, folder))
    if not item.data.get("displayName"):
        parts = [item.data.get(k) for k in ("givenName", "middleName", "surname")]
        item.data["displayName"] = " ".join(p for p in parts if p) or None
    return items.item_reply(call, mailbox, item, "contacts", 201)


async def contacts_delta(call: Call, sim: Sim, user: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    return delta_reply(call, sim, mailbox, "contact", _folder(mailbox, folder), "contact")


async def contact(call: Call, sim: Sim, user: str, ident: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    container = _folder(mailbox, folder) if folder else None
    item = items.lookup(mailbox, "contact", ident, container)
    if call.method == "GET":
        return items.item_reply(call, mailbox, item, "contacts")
    if call.method == "PATCH":
        items.update(call, sim, mailbox, item)
        return items.item_reply(call, mailbox, item, "contacts")
    items.remove(call, sim, mailbox, item)
    return no_content()


async def list_folders(call: Call, sim: Sim, user: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    parent = _folder(mailbox, folder)
    return items.list_reply(call, mailbox, mailbox.in_container("contactFolder", parent), "contactFolders")


async def create_folder(call: Call, sim: Sim, user: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    parent = _folder(mailbox, folder)
    body = call.json_object()
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise GraphError(400, "ErrorInvalidRequest", "displayName is required to create a contact folder.")
    if any(f.data.get("displayName", "").lower() == name.lower()
           for f in mailbox.in_container("contactFolder", parent)):
        raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
    item = items.create(call, sim, mailbox, "contactFolder", parent)
    return items.item_reply(call, mailbox, item, "contactFolders", 201)


async def folder_item(call: Call, sim: Sim, user: str, folder: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = container_of(mailbox, "contactFolder", folder)
    if call.method == "GET":
        return items.item_reply(call, mailbox, item, "contactFolders")
    if item.iid == mailbox.wellknown["contacts"]:
        raise GraphError(403, "ErrorAccessDenied", "The default contact folder cannot be changed.")
    if call.method == "PATCH":
        items.update(call, sim, mailbox, item)
        return items.item_reply(call, mailbox, item, "contactFolders")
    items.remove(call, sim, mailbox, item)
    return no_content()


def register(router: Router) -> None:
    base = "users/{user}"
    router.add("GET", f"{base}/contacts/delta", contacts_delta)
    router.add("GET", f"{base}/contacts", list_contacts)
    router.add("POST", f"{base}/contacts", create_contact)
    router.add("GET,PATCH,DELETE", f"{base}/contacts/{{ident}}", contact)
    router.add("GET", f"{base}/contactFolders", list_folders)
    router.add("POST", f"{base}/contactFolders", create_folder)
    router.add("GET,PATCH,DELETE", f"{base}/contactFolders/{{folder}}", folder_item)
    router.add("GET", f"{base}/contactFolders/{{folder}}/childFolders", list_folders)
    router.add("POST", f"{base}/contactFolders/{{folder}}/childFolders", create_folder)
    router.add("GET", f"{base}/contactFolders/{{folder}}/contacts/delta", contacts_delta)
    router.add("GET", f"{base}/contactFolders/{{folder}}/contacts", list_contacts)
    router.add("POST", f"{base}/contactFolders/{{folder}}/contacts", create_contact)
    router.add("GET,PATCH,DELETE", f"{base}/contactFolders/{{folder}}/contacts/{{ident}}", contact)
