"""``/users`` and ``/users/{id|userPrincipalName}``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.graph.call import Call, Reply, ok
from sim.graph.errors import GraphError
from sim.graph.router import Router

if TYPE_CHECKING:
    from sim.graph.app import Sim


def user_row(user: dict[str, Any]) -> dict[str, Any]:
    return dict(user)


async def list_users(call: Call, sim: Sim) -> Reply:
    rows = [user_row(m.user) for m in sim.tenant.mailboxes.values()]
    return ok({"@odata.context": f"{call.base_url}/v1.0/$metadata#users", "value": rows})


async def get_user(call: Call, sim: Sim, user: str) -> Reply:
    mailbox = sim.tenant.find_user(user)
    if mailbox is None:
        raise GraphError(404, "Request_ResourceNotFound",
                         f"Resource '{user}' does not exist or one of its queried reference-property "
                         "objects are not present.")
    return ok({"@odata.context": f"{call.base_url}/v1.0/$metadata#users/$entity", **user_row(mailbox.user)})


def register(router: Router) -> None:
    router.add("GET", "users", list_users)
    router.add("GET", "users/{user}", get_user)
