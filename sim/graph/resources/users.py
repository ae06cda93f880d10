"""``/users``, ``/users/{id|userPrincipalName}`` and ``translateExchangeIds``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.graph import schema
from sim.graph.call import Call, Reply, ok
from sim.graph.errors import GraphError
from sim.graph.router import Router

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim


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


ID_TYPES = {"restid": "restId", "restimmutableentryid": "restImmutableEntryId"}
ALL_ID_TYPES = {"entryId", "ewsId", "immutableEntryId", "restId", "restImmutableEntryId"}


async def translate_ids(call: Call, sim: Sim, user: str) -> Reply:
    """``translateExchangeIds`` between ``restId`` and ``restImmutableEntryId`` (≤ 1,000 ids)."""
    mailbox = sim.tenant.mailbox(user)
    body = schema.action_params(call.json_object(), ["inputIds", "targetIdType", "sourceIdType"],
                                "translateExchangeIds")
    inputs = body.get("inputIds")
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise GraphError(400, "ErrorInvalidRequest", "inputIds must be a list of strings.")
    if len(inputs) > 1000:
        raise GraphError(400, "ErrorInvalidRequest", "translateExchangeIds takes at most 1000 ids.")
    kinds = []
    for field in ("sourceIdType", "targetIdType"):
        value = str(body.get(field, ""))
        if value not in ALL_ID_TYPES:
            raise GraphError(400, "ErrorInvalidRequest", f"{field} must be one of {', '.join(sorted(ALL_ID_TYPES))}.")
        if value.lower() not in ID_TYPES:
            raise GraphError(400, "ErrorInvalidRequest", f"The simulator translates restId and "
                             f"restImmutableEntryId only, not '{value}'.")
        kinds.append(value.lower())
    target_immutable = kinds[1] == "restimmutableentryid"
    values: list[dict[str, Any]] = []
    for source in inputs:
        item = mailbox.get(source)
        if item is None:
            values.append({"sourceId": source, "errorDetails": {
                "code": "ErrorInvalidIdMalformed", "message": "Id is malformed."}})
        else:
            values.append({"sourceId": source, "targetId": item.ident(target_immutable)})
    return ok({"@odata.context": f"{call.base_url}/v1.0/$metadata#Collection(microsoft.graph.convertIdResult)",
               "value": values})


def register(router: Router) -> None:
    router.add("GET", "users", list_users)
    router.add("GET", "users/{user}", get_user)
    router.add("POST", "users/{user}/translateExchangeIds", translate_ids)
