"""To Do: task lists (``wellknownListName: defaultList``), tasks, ``tasks/delta``, ``linkedResources``.

Task status values are Graph's ``taskStatus`` enum (notStarted, inProgress, completed,
waitingOnOthers, deferred); ``completedDateTime`` is set when a task becomes completed. A change
to a task's linked resources counts as a change of the task (it shows up in the task delta).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.graph import ids, items
from sim.graph.call import Call, Reply, no_content
from sim.graph.delta import delta_reply
from sim.graph.errors import GraphError
from sim.graph.router import Router
from sim.graph.store import Item, Mailbox

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim

TASK_DEFAULTS: dict[str, Any] = {"status": "notStarted", "importance": "normal", "isReminderOn": False,
                                 "categories": [], "body": {"content": "", "contentType": "text"}}


def _list(mailbox: Mailbox, ident: str) -> Item:
    return items.lookup(mailbox, "todoTaskList", ident)


def _task(mailbox: Mailbox, list_id: str, ident: str) -> Item:
    return items.lookup(mailbox, "todoTask", ident, _list(mailbox, list_id).iid)


def _completion(item: Item) -> None:
    if item.data.get("status") == "completed":
        if not item.data.get("completedDateTime"):
            item.data["completedDateTime"] = {"dateTime": ids.stamp().replace("Z", ".0000000"),
                                              "timeZone": "UTC"}
    else:
        item.data["completedDateTime"] = None


async def list_lists(call: Call, sim: Sim, user: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    return items.list_reply(call, mailbox, mailbox.in_container("todoTaskList", None), "todo/lists")


async def create_list(call: Call, sim: Sim, user: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    body = call.json_object()
    if not isinstance(body.get("displayName"), str) or not body["displayName"].strip():
        raise GraphError(400, "invalidRequest", "displayName is required to create a task list.")
    item = items.create(call, sim, mailbox, "todoTaskList", None,
                        {"isOwner": True, "isShared": False, "wellknownListName": "none"})
    return items.item_reply(call, mailbox, item, "todo/lists", 201)


async def lists_delta(call: Call, sim: Sim, user: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    return delta_reply(call, sim, mailbox, "todoTaskList", None, "todoTaskList")


async def list_item(call: Call, sim: Sim, user: str, list_id: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = _list(mailbox, list_id)
    if call.method == "GET":
        return items.item_reply(call, mailbox, item, "todo/lists")
    if call.method == "DELETE" and item.iid == mailbox.wellknown["defaultlist"]:
        raise GraphError(400, "invalidRequest", "The default task list cannot be deleted.")
    if call.method == "PATCH":
        items.update(call, sim, mailbox, item)
        return items.item_reply(call, mailbox, item, "todo/lists")
    items.remove(call, sim, mailbox, item)
    return no_content()


async def list_tasks(call: Call, sim: Sim, user: str, list_id: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    container = _list(mailbox, list_id).iid
    return items.list_reply(call, mailbox, mailbox.in_container("todoTask", container), "tasks")


async def create_task(call: Call, sim: Sim, user: str, list_id: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    container = _list(mailbox, list_id).iid
    item = items.create(call, sim, mailbox, "todoTask", container, dict(TASK_DEFAULTS))
    _completion(item)
    return items.item_reply(call, mailbox, item, "tasks", 201)


async def tasks_delta(call: Call, sim: Sim, user: str, list_id: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    return delta_reply(call, sim, mailbox, "todoTask", _list(mailbox, list_id).iid, "todoTask")


async def task(call: Call, sim: Sim, user: str, list_id: str, ident: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = _task(mailbox, list_id, ident)
    if call.method == "GET":
        return items.item_reply(call, mailbox, item, "tasks")
    if call.method == "PATCH":
        items.update(call, sim, mailbox, item)
        _completion(item)
        return items.item_reply(call, mailbox, item, "tasks")
    items.remove(call, sim, mailbox, item)
    return no_content()


async def list_links(call: Call, sim: Sim, user: str, list_id: str, ident: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    parent = _task(mailbox, list_id, ident)
    return items.list_reply(call, mailbox, mailbox.in_container("linkedResource", parent.iid), "linkedResources")


async def create_link(call: Call, sim: Sim, user: str, list_id: str, ident: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    parent = _task(mailbox, list_id, ident)
    item = items.create(call, sim, mailbox, "linkedResource", parent.iid)
    mailbox.touch(parent)
    return items.item_reply(call, mailbox, item, "linkedResources", 201)


async def link(call: Call, sim: Sim, user: str, list_id: str, ident: str, link_id: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    parent = _task(mailbox, list_id, ident)
    item = items.lookup(mailbox, "linkedResource", link_id, parent.iid)
    if call.method == "GET":
        return items.item_reply(call, mailbox, item, "linkedResources")
    if call.method == "PATCH":
        items.update(call, sim, mailbox, item)
        mailbox.touch(parent)
        return items.item_reply(call, mailbox, item, "linkedResources")
    items.remove(call, sim, mailbox, item)
    mailbox.touch(parent)
    return no_content()


def register(router: Router) -> None:
    base = "users/{user}/todo/lists"
    router.add("GET", f"{base}/delta", lists_delta)
    router.add("GET", base, list_lists)
    router.add("POST", base, create_list)
    router.add("GET,PATCH,DELETE", f"{base}/{{list_id}}", list_item)
    router.add("GET", f"{base}/{{list_id}}/tasks/delta", tasks_delta)
    router.add("GET", f"{base}/{{list_id}}/tasks", list_tasks)
    router.add("POST", f"{base}/{{list_id}}/tasks", create_task)
    router.add("GET,PATCH,DELETE", f"{base}/{{list_id}}/tasks/{{ident}}", task)
    router.add("GET", f"{base}/{{list_id}}/tasks/{{ident}}/linkedResources", list_links)
    router.add("POST", f"{base}/{{list_id}}/tasks/{{ident}}/linkedResources", create_link)
    router.add("GET,PATCH,DELETE", f"{base}/{{list_id}}/tasks/{{ident}}/linkedResources/{{link_id}}", link)
