"""Delta queries: snapshot on the first request, ``$skiptoken`` pages, ``$deltatoken`` rounds, 410.

Query options (``$select``, ``$expand`` for messages and contacts, the calendar window) are baked
into the tokens, as in Graph. Tokens
stay valid after use (replays are allowed) until ``POST /_sim/expire-delta`` or ``/_sim/reset``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.graph import odata
from sim.graph.call import Call, Reply, ok
from sim.graph.errors import GraphError
from sim.graph.items import DEFAULT_PAGE, context_url
from sim.graph.render import KINDS, check_select, render
from sim.graph.store import Item, Mailbox
from sim.graph.tenant import DeltaState

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim

InWindow = Callable[[Item, dict[str, Any]], bool]
EXPANDABLE = {"message", "contact"}  # message delta documents $expand; calendarView/delta and To Do do not


def dead_token(call: Call) -> GraphError:
    location = call.link(**{"$deltatoken": ""})
    return GraphError(410, "syncStateNotFound",
                      "The sync state generation is not found. A full resync is required "
                      "(start again without a delta token).", {"Location": location})


def delta_reply(call: Call, sim: Sim, mailbox: Mailbox, kind: str, container: str | None, context: str,
                options: dict[str, Any] | None = None, in_window: InWindow | None = None) -> Reply:
    state = _state(call, sim, mailbox, kind, container, options or {})
    snapshot: list[tuple[str, str | None]] = state.options["snapshot"]
    size = call.maxpagesize or (odata.int_option(call.query, "$top") if kind != "message" else None) \
        or DEFAULT_PAGE
    page = snapshot[state.offset:state.offset + size]
    rows = [row for entry in page if (row := _row(entry, call, state, mailbox, in_window)) is not None]
    body: dict[str, Any] = {"@odata.context": context_url(call, mailbox, f"Collection({context})"),
                            "value": rows}
    token = secrets.token_urlsafe(24)
    if state.offset + size < len(snapshot):
        sim.tenant.deltas[token] = DeltaState(state.mailbox, kind, container, state.since, state.upto,
                                              state.offset + size, state.options)
        body["@odata.nextLink"] = call.link(**{"$skiptoken": token})
    else:
        options = {k: v for k, v in state.options.items() if k != "snapshot"}
        sim.tenant.deltas[token] = DeltaState(state.mailbox, kind, container, state.upto, state.upto, 0,
                                              options)
        body["@odata.deltaLink"] = call.link(**{"$deltatoken": token})
    return ok(body)


def _state(call: Call, sim: Sim, mailbox: Mailbox, kind: str, container: str | None,
           options: dict[str, Any]) -> DeltaState:
    token = call.query.get("$skiptoken") or call.query.get("$deltatoken")
    if token is None and ("$skiptoken" in call.query or "$deltatoken" in call.query):
        raise dead_token(call)
    if token is None:
        state = DeltaState(mailbox.upn, kind, container, 0, mailbox.seq, 0,
                           {"select": check_select(kind, odata.parse_select(call.query.get("$select"))),
                            "expand": odata.parse_expand(call.query.get("$expand")) if kind in EXPANDABLE
                            else {}, **options})
    else:
        found = sim.tenant.deltas.get(token)
        if found is None or found.mailbox.lower() != mailbox.upn.lower() or found.kind != kind \
                or found.container != container:
            raise dead_token(call)
        state = found
    if "snapshot" not in state.options:
        state = DeltaState(state.mailbox, kind, container, state.since, mailbox.seq, 0,
                           {**state.options, "snapshot": _snapshot(mailbox, kind, container, state.since,
                                                                   mailbox.seq)})
    return state


def _snapshot(mailbox: Mailbox, kind: str, container: str | None, since: int, upto: int
              ) -> list[tuple[str, str | None]]:
    live, gone = mailbox.changes(kind, container, since, upto)
    entries: list[tuple[int, str, str | None]] = [(i.seq, i.iid, None) for i in live]
    if since > 0:
        entries += [(t.seq, t.iid, f"{t.reason}|{t.rid}") for t in gone]
    return [(iid, removed) for _, iid, removed in sorted(entries)]


def _row(entry: tuple[str, str | None], call: Call, state: DeltaState, mailbox: Mailbox,
         in_window: InWindow | None) -> dict[str, Any] | None:
    iid, removed = entry
    item = mailbox.items.get(iid)
    type_name = "#microsoft.graph." + KINDS[state.kind].type_name
    if removed is not None or item is None or item.container != state.container:
        if removed is not None:
            reason, _, rid = removed.partition("|")
        else:  # gone or moved away after the snapshot was taken
            reason, rid = ("deleted", "") if item is None else ("changed", "")
        ident = iid if call.immutable else rid or (item.rid if item is not None else iid)
        return {"@odata.type": type_name, "id": ident, "@removed": {"reason": reason}}
    if in_window is not None and not in_window(item, state.options):
        if state.since == 0:
            return None
        return {"@odata.type": type_name, "id": item.ident(call.immutable), "@removed": {"reason": "deleted"}}
    return render(item, call, mailbox, state.options.get("select"), state.options.get("expand"))
